"""``bearing-agent run``: a refused journal or configuration stops it before anything is touched."""
from __future__ import annotations

from edge_agent.cli import main as cli
from edge_agent.cli import run as service_cli
from firmware_io.cli_support import build_parser


def test_unusable_journal_is_refused_with_the_path(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(service_cli, "setup_logging", lambda level: None)  # keep pytest's logging
    not_db = tmp_path / "notes.sqlite"
    not_db.write_text("this is not a database\n")
    assert cli.main(["run", "--learn", "--port", str(tmp_path / "none"), "--journal", str(not_db)]) == 2
    err = capsys.readouterr().err
    assert f"{not_db}: cannot open the journal: file is not a database" in err
    assert not_db.read_text() == "this is not a database\n"  # nothing lost


def test_command_line_overrides_the_config_file(tmp_path):
    config = tmp_path / "agent.toml"
    config.write_text('[serial]\nport = "/dev/ttyACM0"\n[agent]\ninterval_s = 600.0\n')
    args = build_parser("bearing-agent", "", cli.SUBCOMMANDS, "run").parse_args(
        ["run", "--config", str(config), "--port", "/dev/ttyUSB3", "--journal", str(tmp_path / "j.sqlite")])
    merged = service_cli.config_from_args(args)
    assert merged.serial.port == "/dev/ttyUSB3" and merged.agent.interval_s == 600.0
    assert str(merged.journal.path) == str(tmp_path / "j.sqlite")


def _started(proc, ready) -> None:
    import time

    deadline = time.monotonic() + 60
    while not ready():
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.05)


def test_ctrl_c_ends_run_and_replay_with_130_and_sigterm_run_with_0(tmp_path):
    """Issue 21 #31: Ctrl-C exited 0, docs/cli.md says 130 (an interrupted command); a service stop is 0."""
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from tests.agent_fixtures import raw_test2_files, wait_for

    repo = Path(__file__).resolve().parents[3]
    for sig, code in ((signal.SIGINT, 130), (signal.SIGTERM, 0)):
        journal = tmp_path / f"j{code}.sqlite"
        out, err = tmp_path / f"stdout{code}", tmp_path / f"stderr{code}"
        with out.open("w") as out_file, err.open("w") as err_file:
            proc = subprocess.Popen([sys.executable, "-m", "edge_agent.cli.main", "run", "--learn", "--port",
                                     str(tmp_path / "no-such-device"), "--journal", str(journal)],
                                    cwd=repo, stdout=out_file, stderr=err_file)
        try:
            # The handlers are installed when it says so, and (issue 21 #31) it says so on standard error,
            # like every diagnostic of the kit: before, its log lines went to standard output.
            wait_for(lambda: "SIGTERM stops" in err.read_text() or proc.poll() is not None, 60,
                     lambda: f"the start line on stderr (stdout had {out.read_text()[-300:]!r})")
            proc.send_signal(sig)
            assert proc.wait(60) == code, err.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(30)
        assert "bearing-agent stopped" in err.read_text()
        assert out.read_text() == ""  # standard output stays free for what a command prints as its result
    link = tmp_path / "ttyREPLAY"
    replay = subprocess.Popen([sys.executable, "-m", "firmware_io.simulator.replay_cli", *map(str, raw_test2_files()[:2]),
                               "--pty", "--link", str(link), "--loops", "0"],
                              cwd=repo, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _started(replay, link.exists)
    replay.send_signal(signal.SIGINT)
    assert replay.wait(60) == 130
