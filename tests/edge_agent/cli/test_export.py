"""``bearing-agent export``: the journal's features as a CSV, what it prints, and refusals."""
from __future__ import annotations

import pytest

from edge_agent.cli import main as cli


def test_export_writes_the_table_and_says_what_it_left_out(scored_journal, tmp_path, capsys):
    out_csv = tmp_path / "f.csv"
    assert cli.main(["export", "--journal", str(scored_journal), "-o", str(out_csv)]) == 0
    lines = out_csv.read_text().splitlines()
    assert lines[0] == "timestamp,x,y" and len(lines) == 4
    assert lines[2] == "2023-11-14 22:23:20,0.1,0.2"
    out = capsys.readouterr().out
    assert "shared a second" in out
    assert f"train with 'bearing-train fit {out_csv} --sample-rate 20000" in out


def test_nothing_to_export_exits_1_and_writes_nothing(scored_journal, tmp_path, capsys):
    out_csv = tmp_path / "f.csv"
    assert cli.main(["export", "--journal", str(scored_journal), "--device", "other", "-o", str(out_csv)]) == 1
    assert "bearing-agent export: error: no recorded snapshots match" in capsys.readouterr().err
    assert not out_csv.exists()


def test_a_bad_date_is_a_usage_error(scored_journal, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["export", "--journal", str(scored_journal), "--since", "15.02.2004", "-o", str(tmp_path / "f")])
    assert exit_.value.code == 2
    assert "'15.02.2004' is not a date: use YYYY-MM-DD" in capsys.readouterr().err
