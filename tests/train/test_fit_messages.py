"""Issue 11 #22: what `bearing-train fit` tells a user who follows the README, and its progress line.

- the 25 bundled raw files are too few to train on: the refusal says what they are for and which
  table to train on, never "train later" (which would train on the failure);
- --train-until after the table's last snapshot warns loudly, naming that time (not refused: a
  commissioning export is healthy to its end);
- training shows a progress line (redrawn on a terminal, every 10 % in a log).
"""
from __future__ import annotations

import io

import pytest

pytest.importorskip("tensorflow", reason="desktop test: a Pi has no TensorFlow (.ci/arm-edge.sh)")

from edge_agent.features.table import format_timestamp, read_feature_table
from firmware_io.recordings import ims as datasets
from train.cli import main as cli_main
from train.fit import fit_model_dir
from train.fit_cli import EpochProgress

UNTIL = datasets.TEST2_TRAIN_UNTIL
TABLE = datasets.FEATURES_TEST2


def _fit_error(capsys, table, out, *args) -> str:
    code = cli_main(["fit", str(table), "--out", str(out), "--epochs", "1", *args])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("bearing-train fit: error: ") and "Traceback" not in err, err
    assert not out.exists()
    return err


def test_the_bundled_raw_files_are_refused_with_what_to_train_on_instead(tmp_path, capsys):
    from train.ingest import ingest

    raw = tmp_path / "features.csv"  # the README's order: ingest the bundled raw files, then fit them
    ingest([datasets.RAW_TEST2_DIR], raw, progress=False)
    err = _fit_error(capsys, raw, tmp_path / "m", "--train-until", UNTIL)
    assert "only 11 snapshots" in err
    assert datasets.FEATURES_TEST2.name in err and "bearing-replay" in err and UNTIL in err
    assert "later --train-until" not in err


def test_too_short_a_healthy_period_is_not_told_to_train_later(tmp_path, capsys):
    err = _fit_error(capsys, TABLE, tmp_path / "m", "--train-until", "2004-02-12 11:12:39")
    assert "only 5 snapshots" in err and "bearing-agent export" in err
    assert "choose a later --train-until" not in err and "bearing-replay" not in err  # not the bundled sample


def test_train_until_after_the_last_snapshot_warns_loudly_naming_it(tmp_path, capsys):
    """Not refused: a commissioning export is healthy to its end (tests/edge_agent/test_commissioning.py
    trains one with a round time after it). But it is no longer silent: stderr, the summary, metadata."""
    last = format_timestamp(read_feature_table(TABLE).timestamps[-1])
    out = tmp_path / "m"
    # --accept-drift: on this run-to-failure table the drift check already refuses it (the level rises)
    assert cli_main(["fit", str(TABLE), "--out", str(out), "--epochs", "1", "--no-plots", "--accept-drift",
                     "--train-until", "2005-02-15 12:52:39"]) == 0
    captured = capsys.readouterr()
    warning = f"--train-until 2005-02-15 12:52:39 is after the table's last snapshot, {last}: every snapshot was " \
              "trained on as healthy"
    assert f"bearing-train fit: warning: {warning}" in captured.err
    assert f"WARNING           {warning}" in captured.out


def test_train_until_within_the_table_gives_no_such_warning(tmp_path):
    table = read_feature_table(TABLE)
    healthy = tmp_path / "healthy.csv"
    keep = table.timestamps <= table.timestamps[0] + 2 * 86400  # two healthy days
    type(table)(table.timestamps[keep], table.channel_names, table.values[keep]).write(healthy)
    last = format_timestamp(table.timestamps[keep][-1])
    res = fit_model_dir(healthy, tmp_path / "m", last, epochs=1, make_plots=False)
    assert res.metadata["split"]["train_until"] == last
    assert not any("after the table's last snapshot" in w for w in res.metadata["warnings"])


def test_on_epoch_is_called_after_every_epoch(tmp_path):
    seen = []
    fit_model_dir(TABLE, tmp_path / "m", UNTIL, epochs=3, make_plots=False,
                  on_epoch=lambda epoch, epochs, logs: seen.append((epoch, epochs, sorted(logs))))
    assert [(e, n) for e, n, _ in seen] == [(1, 3), (2, 3), (3, 3)]
    assert all("loss" in keys and "val_loss" in keys for _, _, keys in seen)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_off_a_terminal_is_ten_lines_for_a_whole_run():
    log = io.StringIO()
    progress = EpochProgress(log)
    for epoch in range(1, 101):
        progress(epoch, 100, {"loss": 0.5, "val_loss": 0.4})
    lines = log.getvalue().splitlines()
    assert 10 <= len(lines) <= 12 and "\r" not in log.getvalue()
    assert lines[0].startswith("bearing-train fit: training, epoch 1/100, loss 0.5000")
    assert lines[-1].startswith("bearing-train fit: training, epoch 100/100")


def test_progress_on_a_terminal_is_one_line_redrawn():
    tty = _Terminal()
    progress = EpochProgress(tty)
    for epoch in range(1, 6):
        progress(epoch, 5, {"loss": 0.5})
    text = tty.getvalue()
    assert text.count("\r") == 5 and text.count("\n") == 1 and text.endswith("epoch 5/5, loss 0.5000\x1b[K\n")
