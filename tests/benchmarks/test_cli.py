"""``bearing-bench``: a missed goal is exit status 1 (docs/cli.md), and a run never overwrites the committed results
(issue 21 #27)."""
from __future__ import annotations

import json
import subprocess

from tests.conftest import import_or_skip_desktop


def test_a_missed_goal_is_named_and_counted_as_a_no():
    cli = import_or_skip_desktop("benchmarks.cli")
    from benchmarks.harness import BenchResult

    results = [BenchResult("training", "Training", {"median_s": 39.1}, "", {"training <= 30 s": False}),
               BenchResult("web", "Web", {}, "", {"7-day view < 200 ms": True, "peak RSS <= 30 MiB": True}),
               BenchResult("features", "Features", {}, "")]
    assert cli.missed_goals(results) == ["training: training <= 30 s"]
    text = cli.render_markdown(results, {"cpu": "x", "cores": 2, "memory_gib": 1, "platform": "p", "python": "3",
                                         "versions": {}}, False, "bearing-bench", {}, 1.0)
    assert "## Goals missed in this run\n\n- training: training <= 30 s" in text
    assert cli.missed_goals(results[1:]) == []
    assert "load average" not in text
    loaded = cli.render_markdown([], {"cpu": "x", "cores": 2, "memory_gib": 1, "platform": "p", "python": "3",
                                      "versions": {}, "load": [3.94, 4.2]}, False, "bearing-bench", {}, 1.0)
    assert "- load average (1 min) at the start and end of the run: 3.9 / 4.2" in loaded


def test_the_default_output_is_an_ignored_folder_not_the_committed_results(tmp_path):
    cli = import_or_skip_desktop("benchmarks.cli")
    import argparse

    parser = argparse.ArgumentParser()
    cli.configure(parser)
    out = parser.parse_args([]).out
    assert out == cli.DEFAULT_OUT and out != cli.BENCH_DIR
    ignored = subprocess.run(["git", "check-ignore", "-q", str(out / "RESULTS.md")], cwd=cli.BENCH_DIR.parent)
    assert ignored.returncode == 0, "bench-output/ must be git-ignored"


def test_a_run_writes_its_missed_goals_into_results_json(tmp_path):
    cli = import_or_skip_desktop("benchmarks.cli")
    assert cli.main(["--only", "features", "--quick", "--out", str(tmp_path)]) == 0  # no goal in that one
    assert json.loads((tmp_path / "results-partial.json").read_text())["missed_goals"] == []


def test_the_hand_written_sections_of_the_committed_results_survive_a_run(tmp_path):
    """RESULTS.md's load-and-CPU notes and the tables moved from the README are carried into every new RESULTS.md."""
    cli = import_or_skip_desktop("benchmarks.cli")
    committed = cli.kept_sections()
    assert committed.startswith(cli.KEPT_BEGIN) and "## How the figures vary with load and CPU" in committed
    other = tmp_path / "RESULTS.md"
    other.write_text(f"# old\n\n{cli.KEPT_BEGIN}\n## Notes\n\ntext\n{cli.KEPT_END}\n\n## Generated\n")
    kept = cli.kept_sections(other)
    assert kept == f"{cli.KEPT_BEGIN}\n## Notes\n\ntext\n{cli.KEPT_END}"
    text = cli.render_markdown([], {"cpu": "x", "cores": 2, "memory_gib": 1, "platform": "p", "python": "3",
                                    "versions": {}}, False, "bearing-bench", {}, 1.0, kept)
    assert text.index("## Machine") < text.index("## Notes")
    assert cli.kept_sections(tmp_path / "missing.md") == ""


def test_every_benchmark_module_can_be_run_by_bearing_bench():
    """bearing-bench calls ``run(quick)`` on every benchmarks/bench_*.py: a module without it is a failed run."""
    import ast

    cli = import_or_skip_desktop("benchmarks.cli")
    missing = []
    for name in cli.discover():
        tree = ast.parse((cli.BENCH_DIR / f"bench_{name}.py").read_text())
        runs = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "run"]
        # called as run(quick=...): a parameter of that name, and no other without a default
        params = [a.arg for a in runs[0].args.args] if runs else []
        required = params[:len(params) - len(runs[0].args.defaults)] if runs else []
        if not runs or "quick" not in params or set(required) - {"quick"}:
            missing.append(name)
    assert missing == [], f"no run(quick) in: {missing}"
    assert set(cli.ORDER) <= set(cli.discover()), "ORDER names a benchmark that does not exist"
