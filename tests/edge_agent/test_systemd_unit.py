"""The systemd unit: shipped with the package, filled in per machine, written with the example config."""
from __future__ import annotations

import pytest

from edge_agent.config import example_config_path
from edge_agent.systemd_unit import (UNIT_NAME, InstallError, create_user_command, render_unit, shipped_unit_path,
                                     systemctl_commands, write_unit_and_config)


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


# --- issue 11 #18: hardening, a dedicated user, quoting and validation of what is filled in ---

def _score(unit_text: str, name: str, tmp_path) -> float:
    """The overall exposure ``systemd-analyze security --offline=true`` gives the unit (0 = safest, 10 = none)."""
    import re
    import subprocess

    from tests.conftest import require_executable

    analyze = require_executable("systemd-analyze", "systemd")
    path = tmp_path / name
    path.write_text(unit_text)
    result = subprocess.run([analyze, "security", "--offline=true", "--no-pager", str(path)],
                            capture_output=True, text=True, timeout=120)
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout + result.stderr)
    assert found, result.stdout + result.stderr
    return float(found.group(1))


@pytest.mark.parametrize("name, subcommand", [(UNIT_NAME, "run"), ("bearing-agent-web.service", "web")])
def test_units_are_hardened_to_a_score_of_at_most_4(name, subcommand, tmp_path):
    unit = render_unit(executable="/opt/bearing-edge/venv/bin/bearing-agent", config="/etc/bearing-agent/agent.toml",
                       name=name, subcommand=subcommand)
    score = _score(unit, name, tmp_path)
    print(f"systemd-analyze security --offline=true {name}: {score}")
    assert score <= 4.0
    for line in ("User=bearing-agent", "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes",
                 "PrivateTmp=yes", "ReadWritePaths=/var/lib/bearing-agent", "UMask=0007", "CapabilityBoundingSet="):
        assert f"\n{line}\n" in unit, line


def test_the_agent_unit_still_reaches_serial_ports_and_gpio():
    unit = shipped_unit_path().read_text()
    assert "SupplementaryGroups=dialout gpio" in unit and "DevicePolicy=closed" in unit
    for device in ("char-ttyUSB", "char-ttyACM", "char-ttyAMA", "char-gpiochip", "/dev/gpiomem"):
        assert f"DeviceAllow={device} rw" in unit
    assert "PrivateDevices=yes" not in unit  # it would hide /dev/ttyACM0 and /dev/gpiochip0


def test_a_config_path_with_a_space_is_one_quoted_argument():
    unit = render_unit(executable="/opt/my venv/bin/bearing-agent", config="/etc/bearing agent/50% $HOME.toml")
    assert ('ExecStart="/opt/my venv/bin/bearing-agent" run --config "/etc/bearing agent/50%% $$HOME.toml"\n'
            in unit)


@pytest.mark.parametrize("user", ["pi\nExecStartPre=/bin/sh -c id", "pi ExecStart", "", "-pi", "Pi", "a" * 33,
                                  "pi;rm"])
def test_junk_in_the_user_name_is_refused(user):
    with pytest.raises(InstallError, match="is not a user name"):
        render_unit(executable="/opt/venv/bin/bearing-agent", user=user, config="/etc/x.toml")


def test_root_is_refused_and_never_the_default():
    with pytest.raises(InstallError, match="needs no root"):
        render_unit(executable="/opt/venv/bin/bearing-agent", user="root", config="/etc/x.toml")
    assert "User=bearing-agent\n" in render_unit(executable="/opt/venv/bin/bearing-agent", config="/etc/x.toml")


def test_a_newline_in_a_path_is_refused():
    with pytest.raises(InstallError, match="line break"):
        render_unit(executable="/opt/venv/bin/bearing-agent", config="/etc/x.toml\nUser=root")


def test_a_venv_under_home_keeps_home_readable_and_a_journal_elsewhere_is_writable():
    unit = render_unit(executable="/home/pi/bearing-edge/.venv/bin/bearing-agent", config="/etc/x.toml",
                       journal_dir="/srv/bearing journal")
    assert "\nProtectHome=read-only\n" in unit and "\nProtectHome=yes\n" not in unit
    assert '\nReadWritePaths=/var/lib/bearing-agent "/srv/bearing journal"\n' in unit


def test_the_dedicated_user_has_no_login_and_the_device_groups_that_exist():
    command = create_user_command()
    assert command[:2] == ["useradd", "--system"] and command[-1] == "bearing-agent"
    assert "/usr/sbin/nologin" in command and "--no-create-home" in command


def test_the_agent_unit_is_notify_with_a_watchdog():
    unit = shipped_unit_path().read_text()
    assert "\nType=notify\n" in unit and "\nNotifyAccess=main\n" in unit and "\nWatchdogSec=30\n" in unit


def test_the_agent_runs_ahead_of_default_priority_processes_but_not_realtime():
    """Issue 24 #6: on a Pi whose cores are busy the alarm path keeps its budget
    (``python -m benchmarks.bench_agent --envelope --busy 2 --busy-nice 5``); the page does not get the edge."""
    def nice(unit: str) -> int:
        values = [int(line.split("=", 1)[1]) for line in unit.splitlines() if line.startswith("Nice=")]
        return values[-1] if values else 0

    agent = shipped_unit_path().read_text()
    web = shipped_unit_path("bearing-agent-web.service").read_text()
    assert -10 <= nice(agent) < 0 <= nice(web)
    assert "CPUSchedulingPolicy" not in agent and "\nRestrictRealtime=yes\n" in agent  # a stuck loop cannot freeze the Pi
