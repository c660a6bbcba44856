"""The status page's systemd unit ships beside the agent's and install-service fills it in."""
from __future__ import annotations

from edge_agent.cli import main as cli
from edge_agent.systemd_unit import WEB_UNIT_NAME, render_unit, shipped_unit_path, systemctl_commands


def test_web_unit_is_shipped_and_filled_in():
    assert shipped_unit_path(WEB_UNIT_NAME).is_file()
    unit = render_unit(executable="/opt/venv/bin/bearing-agent", user="maint", config="/etc/x.toml",
                       name=WEB_UNIT_NAME, subcommand="web")
    assert "ExecStart=/opt/venv/bin/bearing-agent web --config /etc/x.toml" in unit and "User=maint" in unit
    # read-only everywhere but the journal's directory (the -shm file and the acknowledgement row)
    assert "ProtectSystem=strict" in unit and "ReadWritePaths=/var/lib/bearing-agent" in unit
    assert systemctl_commands(name=WEB_UNIT_NAME)[-1] == ["systemctl", "restart", WEB_UNIT_NAME]


def test_install_service_web_dry_run(capsys, tmp_path):
    assert cli.main(["install-service", "--web", "--dry-run", "--user", "maint", "--unit-dir", str(tmp_path),
                     "--config", str(tmp_path / "agent.toml")]) == 0
    out = capsys.readouterr().out
    assert f"would write {tmp_path / WEB_UNIT_NAME}" in out and " web --config " in out
    assert f"would run: systemctl enable {WEB_UNIT_NAME}" in out
    assert not (tmp_path / WEB_UNIT_NAME).exists()
