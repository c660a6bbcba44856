"""The systemd unit shipped with the package, filled in for this machine and installed.

``bearing-agent install-service`` prints or runs these steps. The shipped
``bearing-agent.service`` stays the one source of the unit's settings
(restart policy, ``ExecReload``, watchdog, hardening); only the lines that
differ per machine are filled in: ``ExecStart`` (the ``bearing-agent`` of this
environment and the config path), ``User``, the journal's directory
in ``ReadWritePaths`` and, for a venv under ``/home``, ``ProtectHome``.

Everything filled in is validated or quoted here: a unit file is parsed line by
line, so a newline in a user name would inject directives, and a space in a
path would split ``ExecStart`` into two arguments.
"""
from __future__ import annotations

import grp
import pwd
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
#: The dedicated system user the service runs as unless ``--user`` names another one.
SERVICE_USER = "bearing-agent"
#: The journal's directory in the shipped unit (``StateDirectory=bearing-agent``).
STATE_DIR = "/var/lib/bearing-agent"
#: Supplementary groups of the service: serial devices and GPIO chips.
DEVICE_GROUPS = ("dialout", "gpio")

# What useradd accepts on Debian and systemd accepts in User=, without the '$' of machine accounts.
_USER_NAME = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
# Characters that make systemd split or expand an ExecStart argument unless it is quoted/escaped.
_NEEDS_QUOTES = re.compile(r"""[\s"'\\;%$]""")


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


def check_user(user: str) -> str:
    """``user`` if it is a plain user name the service may run as; :class:`InstallError` otherwise."""
    if not _USER_NAME.fullmatch(user):
        raise InstallError(f"--user {user!r} is not a user name (lower-case letters, digits, '_' and '-', "
                           f"at most 32, not starting with a digit or '-'); e.g. --user {SERVICE_USER}")
    if user == "root":
        raise InstallError(f"--user root: the agent needs no root (serial and GPIO come from the groups "
                           f"{' and '.join(DEVICE_GROUPS)}); leave --user out to run it as {SERVICE_USER}")
    return user


def exec_argument(value: str | Path) -> str:
    """One ``ExecStart`` argument: as it is when plain, else double-quoted with systemd's escapes.

    Inside quotes systemd still expands ``%`` specifiers and ``$`` variables, so those are doubled.
    A newline cannot be escaped into a unit line and is refused.
    """
    text = str(value)
    if "\n" in text or "\r" in text or "\0" in text:
        raise InstallError(f"{text!r}: a path with a line break or NUL cannot go into a unit file; rename it")
    if not _NEEDS_QUOTES.search(text):
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
    return f'"{escaped}"'


def _exec_start(executable: str, subcommand: str, config: str | Path) -> str:
    # agent_executable() may be "python -m edge_agent.cli.main": split only that fallback form.
    program = executable.split(" ") if " -m " in executable and not Path(executable).exists() else [executable]
    return " ".join(exec_argument(part) for part in [*program, subcommand, "--config", str(config)])


def render_unit(*, executable: str, user: str = SERVICE_USER, config: str | Path, name: str = UNIT_NAME,
                subcommand: str = "run", journal_dir: str | Path = STATE_DIR) -> str:
    """The shipped unit ``name`` with ExecStart (``bearing-agent <subcommand>``), User and paths for this machine.

    ``journal_dir`` is made writable beside the state directory when the
    configuration puts the journal elsewhere. A venv or config under ``/home``
    or ``/root`` turns ``ProtectHome=yes`` into ``read-only``, else the service
    could not even start its own executable.
    """
    check_user(user)
    text = shipped_unit_path(name).read_text(encoding="utf-8")
    text = re.sub(r"(?m)^ExecStart=.*$", lambda _: f"ExecStart={_exec_start(executable, subcommand, config)}", text)
    text = re.sub(r"(?m)^User=.*$", f"User={user}", text)
    journal_dir = str(journal_dir)
    if journal_dir != STATE_DIR:
        extra = exec_argument(journal_dir)
        text = re.sub(r"(?m)^ReadWritePaths=.*$", lambda m: f"{m.group(0)} {extra}", text)
    if any(str(p).startswith(("/home/", "/root/")) for p in (executable, config, journal_dir)):
        text = re.sub(r"(?m)^ProtectHome=yes$", "ProtectHome=read-only", text)
    return text


def user_exists(user: str) -> bool:
    try:
        pwd.getpwnam(user)
    except KeyError:
        return False
    return True


def create_user_command(user: str = SERVICE_USER) -> list[str]:
    """``useradd`` for the dedicated system user: no login, no home of its own, its own group.

    The device groups come from the unit's ``SupplementaryGroups=``; they are
    added here too (those that exist) so that the user can open the devices
    when an administrator runs the agent as it by hand.
    """
    groups = [g for g in DEVICE_GROUPS if _group_exists(g)]
    command = ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", STATE_DIR,
               "--shell", "/usr/sbin/nologin"]
    if groups:
        command += ["--groups", ",".join(groups)]
    return [*command, user]


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


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
