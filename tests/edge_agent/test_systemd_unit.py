"""The systemd unit: shipped with the package, filled in per machine, written with the example config."""
from __future__ import annotations

import pytest

from edge_agent.config import example_config_path
from edge_agent.systemd_unit import (UNIT_NAME, InstallError, render_unit, shipped_unit_path, systemctl_commands,
                                     write_unit_and_config)


def test_service_unit_is_shipped_and_filled_in():
    unit = render_unit(executable="/opt/venv/bin/bearing-agent", user="maint", config="/etc/x.toml")
    assert "ExecStart=/opt/venv/bin/bearing-agent run --config /etc/x.toml" in unit
    assert "User=maint" in unit and "ExecReload=/bin/kill -HUP $MAINPID" in unit
    assert shipped_unit_path().is_file()


def test_unit_and_example_config_are_written_once(tmp_path):
    config = tmp_path / "etc" / "agent.toml"
    assert write_unit_and_config("unit text\n", tmp_path, config) is True
    assert (tmp_path / UNIT_NAME).read_text() == "unit text\n"
    assert config.read_text() == example_config_path().read_text()
    config.write_text("# edited\n")
    assert write_unit_and_config("unit text 2\n", tmp_path, config) is False  # an edited config is kept
    assert config.read_text() == "# edited\n"


def test_no_permission_becomes_an_install_error_saying_sudo(tmp_path, monkeypatch):
    def refuse(path, text):  # what /etc/systemd/system does without sudo (chmod cannot show it to root)
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr("edge_agent.systemd_unit.write_text_atomic", refuse)
    with pytest.raises(InstallError, match=r"Permission denied: .*bearing-agent.service'; run it with sudo"):
        write_unit_and_config("unit\n", tmp_path, tmp_path / "agent.toml")
    assert not (tmp_path / "agent.toml").exists()


def test_start_is_optional():
    assert systemctl_commands(start=False) == [["systemctl", "daemon-reload"], ["systemctl", "enable", UNIT_NAME]]
    assert systemctl_commands()[-1] == ["systemctl", "restart", UNIT_NAME]
