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
