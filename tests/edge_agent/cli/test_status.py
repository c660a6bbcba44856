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


def _hostile_journal(tmp_path):
    """A journal whose device chose escape sequences for its id and whose last error is infinite."""
    import time

    from edge_agent.journal import Journal
    from tests.edge_agent.cli.conftest import row

    path = tmp_path / "hostile.sqlite"
    j = Journal(path)
    device = "pump\x1b]0;owned\x07\x1b[2K\x1b[31m\u202e"
    sid = j.stream_id(device, "fw\x1b[1A", 20000, 2, 0.001, ["x", "y"])
    j.record_snapshot(row(1.7e9, 0, stream_id=sid, error=float("inf"), threshold=0.5, over_threshold=True,
                          alarm=False, state="normal\x1b[2J"),
                      state={"heartbeat": {"time": time.time(), "pid": 1, "mode": "scoring", "display": "normal",
                                           "port": "/dev/ttyACM0\x1b[8m", "device_id": device,
                                           "fault": "bad\r\x1b[Kline"}})
    j.event("start", "detail with \x1b[5m blink and a\nnew line")
    j.close()
    return path


def test_status_prints_no_control_character_from_the_device_or_the_journal(tmp_path, capsys):
    """Issue 21 #22: a device id with terminal escapes is shown escaped, never sent to the terminal."""
    path = _hostile_journal(tmp_path)
    assert cli.main(["status", "--journal", str(path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\r" not in out and "\u202e" not in out
    assert r"device: pump\x1b]0;owned\x07\x1b[2K\x1b[31m\u202e" in out
    assert r"blink and a\nnew line" in out  # one event, one line


def test_status_json_is_strict_with_a_non_finite_error(tmp_path, capsys):
    """Issue 21 #17: an infinite error in the journal prints as null, never as Infinity (invalid JSON)."""
    path = _hostile_journal(tmp_path)
    assert cli.main(["status", "--journal", str(path), "--json"]) == 0
    out = capsys.readouterr().out
    assert "Infinity" not in out
    assert json.loads(out)["snapshots"][-1]["error"] is None


def test_status_refuses_an_absurd_number_of_rows_with_a_message(scored_journal, capsys):
    """Issue 21 #25: -n 99999999999999999999999 was a traceback."""
    import pytest

    for bad in ("99999999999999999999999", "0", "-3", "1e3"):
        with pytest.raises(SystemExit) as exc:
            cli.main(["status", "--journal", str(scored_journal), "-n", bad])
        assert exc.value.code == 2
        assert "must be a whole number from 1 to 100,000" in capsys.readouterr().err
    assert cli.main(["status", "--journal", str(scored_journal), "-n", "100000"]) == 0
