"""The systemd unit shipped with the package, filled in for this machine and installed.

``bearing-agent install-service`` prints or runs these steps. The shipped
``bearing-agent.service`` stays the one source of the unit's settings
(restart policy, ``ExecReload``, hardening); only the lines that differ per
machine are filled in: ``ExecStart`` (the ``bearing-agent`` of this
environment and the config path) and ``User``.
"""
from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

from edge_agent.atomic import write_text_atomic
from edge_agent.config import example_config_path
from firmware_io.errors import BearingEdgeError

UNIT_NAME = "bearing-agent.service"
#: The status page's unit (``bearing-agent web``), installed with ``install-service --web``.
WEB_UNIT_NAME = "bearing-agent-web.service"


class InstallError(BearingEdgeError):
    """The unit or the configuration could not be written; the message says where and what to do."""


def shipped_unit_path(name: str = UNIT_NAME) -> Path:
    return Path(__file__).resolve().parent / name


def agent_executable() -> str:
    """The ``bearing-agent`` script of this environment (the venv the package is installed in)."""
    candidate = Path(sys.executable).with_name("bearing-agent")
    if candidate.exists():
        return str(candidate)
    found = shutil.which("bearing-agent")
    return found or f"{sys.executable} -m edge_agent.cli.main"


def render_unit(*, executable: str, user: str, config: str | Path, name: str = UNIT_NAME,
                subcommand: str = "run") -> str:
    """The shipped unit ``name`` with ExecStart (``bearing-agent <subcommand>``) and User set for this machine."""
    text = shipped_unit_path(name).read_text(encoding="utf-8")
    text = re.sub(r"(?m)^ExecStart=.*$", f"ExecStart={executable} {subcommand} --config {config}", text)
    return re.sub(r"(?m)^User=.*$", f"User={user}", text)


def systemctl_commands(*, start: bool = True, name: str = UNIT_NAME) -> list[list[str]]:
    """What makes systemd pick the unit up, enable it at boot and (with ``start``) (re)start it now."""
    commands = [["systemctl", "daemon-reload"], ["systemctl", "enable", name]]
    if start:
        commands.append(["systemctl", "restart", name])
    return commands


def write_unit_and_config(unit: str, unit_dir: str | Path, config: str | Path, name: str = UNIT_NAME) -> bool:
    """Write the unit into ``unit_dir`` and, if ``config`` does not exist, the example configuration there.

    Returns whether the configuration was created. A directory this user may
    not write (``/etc`` without sudo) raises :class:`InstallError`.
    """
    config = Path(config)
    try:
        write_text_atomic(Path(unit_dir) / name, unit)
        if config.exists():
            return False
        config.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(example_config_path(), config)
        return True
    except PermissionError as exc:
        raise InstallError(f"{exc}; run it with sudo") from None
