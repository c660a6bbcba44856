"""``bearing-agent install-service``: the dry run shows the unit and the steps and changes nothing."""
from __future__ import annotations

from edge_agent.cli import main as cli


def test_dry_run_prints_the_filled_in_unit_and_changes_nothing(tmp_path, capsys):
    config = tmp_path / "etc" / "agent.toml"
    assert cli.main(["install-service", "--dry-run", "--user", "maint", "--config", str(config),
                     "--unit-dir", str(tmp_path / "units")]) == 0
    out = capsys.readouterr().out
    assert f"# would write {tmp_path / 'units' / 'bearing-agent.service'}" in out
    assert "User=maint" in out and f"run --config {config}" in out
    assert "# would run: systemctl restart bearing-agent.service" in out
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_unit_dir_says_to_use_sudo(tmp_path, capsys, monkeypatch):
    def refuse(path, text):  # what /etc/systemd/system does without sudo (chmod cannot show it to root)
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr("edge_agent.systemd_unit.write_text_atomic", refuse)
    code = cli.main(["install-service", "--user", "maint", "--config", str(tmp_path / "agent.toml"),
                     "--unit-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("bearing-agent install-service: error: ")
    assert "run it with sudo" in err and "Traceback" not in err


def test_as_root_without_user_the_unit_runs_as_the_dedicated_user(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("SUDO_USER", raising=False)
    monkeypatch.setattr("getpass.getuser", lambda: "root")  # logged in as root, no sudo
    monkeypatch.setattr("edge_agent.systemd_unit.user_exists", lambda user: False)
    monkeypatch.setattr("edge_agent.cli.install.user_exists", lambda user: False)
    assert cli.main(["install-service", "--dry-run", "--config", str(tmp_path / "agent.toml"),
                     "--unit-dir", str(tmp_path / "units")]) == 0
    out = capsys.readouterr().out
    assert "\nUser=bearing-agent\n" in out and "User=root" not in out
    assert "# would run: useradd --system" in out and out.index("useradd") < out.index("systemctl daemon-reload")


def test_a_newline_in_user_is_refused_with_a_message(tmp_path, capsys):
    code = cli.main(["install-service", "--dry-run", "--user", "pi\nExecStartPre=/bin/sh", "--config",
                     str(tmp_path / "agent.toml"), "--unit-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("bearing-agent install-service: error: ") and "not a user name" in err
    assert list(tmp_path.iterdir()) == []
