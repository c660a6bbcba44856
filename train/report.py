"""``bearing-train report MODEL_DIR``: what a model directory says, in a dozen lines.

``fit`` prints the same summary when it finishes, so a user sees at once the
threshold, the first alarm and whether the healthy period stayed quiet.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from train import model_dir
from train.threshold import load_threshold


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("model_dir", type=Path, metavar="MODEL_DIR", help="a directory written by 'bearing-train fit'")


def summary(path: str | Path) -> str:
    """The human summary of a model directory (reads only its JSON files and scores.csv)."""
    d = Path(path)
    meta = model_dir.read_json(d, model_dir.METADATA)
    thr = load_threshold(d / model_dir.THRESHOLD)
    s, tr, res = meta["split"], meta["training"], meta["result"]
    onsets = res["alarm_onsets"]
    false = [t for t in onsets if t <= s["train_until"]]
    plots = model_dir.plot_names(d)
    lines = [
        f"model directory   {d}",
        f"data              {meta['data']['path']} ({meta['data']['n_snapshots']} snapshots, "
        f"{meta['data']['first']} .. {meta['data']['last']}, sha256 {meta['data']['sha256'][:12]}...)",
        f"channels          {', '.join(meta['feature_spec']['channel_names'])}",
        f"healthy period    until {s['train_until']}: {s['n_healthy_snapshots']} snapshots "
        f"({s['n_train']} train, {s['n_validation']} validation), {s['n_test']} after",
        f"model             timesteps {meta['timesteps']}, {tr['n_parameters']} parameters, seed {meta['seed']}, "
        f"{tr['epochs']} epochs, batch {tr['batch_size']}",
        f"training          {meta['training_seconds']:.1f} s, final loss {tr['final_loss']:.4f}, "
        f"validation loss {tr['final_val_loss']:.4f}" if tr["final_val_loss"] is not None else
        f"training          {meta['training_seconds']:.1f} s, final loss {tr['final_loss']:.4f}",
        f"threshold         {thr['value']:.6g} ({thr['rule']}; {thr.get('description', '')})",
        f"first alarm       {res['first_alarm'] or 'none'}",
        f"alarm onsets      {len(onsets)}" + (f": {', '.join(onsets[:5])}{' ...' if len(onsets) > 5 else ''}" if onsets else ""),
        f"false alarms      {len(false)} in the healthy period" + (f" ({', '.join(false[:5])})" if false else ""),
        f"files             {', '.join(model_dir.FILES)}; plots: {', '.join(plots) or 'none'}",
    ]
    levels = thr.get("levels")
    if levels:  # the alarm levels (issue 20); older model directories have none
        idx = next(i for i, line in enumerate(lines) if line.startswith("first alarm"))
        lines.insert(idx, f"alarm levels      novel AND risen over the commissioning baseline: Alert at +"
                          f"{levels['alert_db_level']:g} dB (levels) / +{levels['alert_db_ratio']:g} dB (ratios), Danger "
                          f"at +{levels['danger_db_level']:g} / +{levels['danger_db_ratio']:g} dB; 'first alarm' is the "
                          "first Alert")
    recon = meta.get("reconstruction")
    if recon:  # older model directories have no such measurement
        tried = ", ".join(f"{t['seed']} ({'collapsed' if t['collapsed'] else 'learned'})" for t in recon["seeds_tried"])
        verdict = "learned" if recon["learned"] else "DID NOT LEARN (collapsed to a constant output)"
        lines.insert(6, f"reconstruction    {verdict}: output spread {min(recon['spread_ratio']):.2g}-"
                        f"{max(recon['spread_ratio']):.2g} of the input's, error {recon['error_vs_median']:.2f} x "
                        f"the distance to the healthy median; seeds tried: {tried}")
    if s.get("excluded"):
        lines.insert(4, f"excluded          {s['n_excluded_snapshots']} snapshots in "
                        + ", ".join(f"{a} .. {b}" for a, b in s["excluded"]))
    lines += [f"WARNING           {w}" for w in meta.get("warnings", [])]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    print(summary(args.model_dir))
    return 0
