"""``bearing-agent status``: text and JSON from the journal, and a missing journal refused."""
from __future__ import annotations

import json

from edge_agent.cli import main as cli


def test_status_prints_state_and_json(scored_journal, capsys):
    path = scored_journal
    assert cli.main(["status", "--journal", str(path)]) == 0
    out = capsys.readouterr().out
    assert "agent: running" in out and "state: NORMAL" in out and "recent events" in out
    assert cli.main(["status", "--journal", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["snapshots"][-1]["first_index"] == 3 * 20480


def test_missing_journal_is_refused_with_the_path_and_exit_2(tmp_path, capsys):
    assert cli.main(["status", "--journal", str(tmp_path / "none.sqlite")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bearing-agent status: error: ") and f"{tmp_path / 'none.sqlite'}: no journal here" in err
    assert not (tmp_path / "none.sqlite").exists()  # status never creates a journal


def test_journal_path_comes_from_the_config(scored_journal, tmp_path, capsys):
    config = tmp_path / "agent.toml"
    config.write_text(f'[journal]\npath = "{scored_journal}"\n')
    assert cli.main(["status", "--config", str(config), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["counters"] is not None
    config.write_text("[jornal]\n")
    assert cli.main(["status", "--config", str(config)]) == 2
    assert "unknown section [jornal]" in capsys.readouterr().err
