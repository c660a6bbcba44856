"""``bearing-agent install-service``: install the systemd unit shipped with the package.

It fills the shipped ``bearing-agent.service`` in for this machine (the
``bearing-agent`` of this environment, the user to run as, the config path),
writes it to ``/etc/systemd/system``, puts the example configuration at the
config path if none is there, and enables and starts the service. Use
``--dry-run`` to see the unit without changing anything.
"""
from __future__ import annotations

import argparse
import getpass
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from edge_agent.atomic import write_text_atomic
from edge_agent.config import example_config_path

UNIT_NAME = "bearing-agent.service"


def shipped_unit_path() -> Path:
    return Path(__file__).resolve().parents[1] / UNIT_NAME


def agent_executable() -> str:
    """The ``bearing-agent`` script of this environment (the venv the package is installed in)."""
    candidate = Path(sys.executable).with_name("bearing-agent")
    if candidate.exists():
        return str(candidate)
    found = shutil.which("bearing-agent")
    return found or f"{sys.executable} -m edge_agent.cli.main"


def render_unit(*, executable: str, user: str, config: str) -> str:
    """The shipped unit with ExecStart and User set for this machine."""
    text = shipped_unit_path().read_text(encoding="utf-8")
    text = re.sub(r"(?m)^ExecStart=.*$", f"ExecStart={executable} run --config {config}", text)
    return re.sub(r"(?m)^User=.*$", f"User={user}", text)


def configure_install_service(p: argparse.ArgumentParser) -> None:
    p.add_argument("--user", default=os.environ.get("SUDO_USER") or getpass.getuser(),
                   help="user the service runs as (default: the user who ran sudo)")
    p.add_argument("--config", default="/etc/bearing-agent/agent.toml",
                   help="configuration file (created from the example if missing)")
    p.add_argument("--unit-dir", default="/etc/systemd/system", help="where systemd units live")
    p.add_argument("--no-start", action="store_true", help="install and enable, but do not start now")
    p.add_argument("--dry-run", action="store_true", help="print the unit and the steps, change nothing")


def main_install_service(args: argparse.Namespace) -> int:
    unit = render_unit(executable=agent_executable(), user=args.user, config=args.config)
    unit_path = Path(args.unit_dir) / UNIT_NAME
    config = Path(args.config)
    steps = [["systemctl", "daemon-reload"], ["systemctl", "enable", UNIT_NAME]]
    if not args.no_start:
        steps.append(["systemctl", "restart", UNIT_NAME])
    if args.dry_run:
        print(f"# would write {unit_path}:\n{unit}")
        if not config.exists():
            print(f"# would copy {example_config_path()} to {config}")
        for cmd in steps:
            print("# would run:", " ".join(cmd))
        return 0
    try:
        write_text_atomic(unit_path, unit)
        if not config.exists():
            config.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(example_config_path(), config)
            print(f"wrote {config} from the example: edit port, bundle and pins, then "
                  f"'sudo systemctl restart {UNIT_NAME}'")
    except PermissionError as exc:
        print(f"bearing-agent install-service: {exc}; run it with sudo", file=sys.stderr)
        return 2
    print(f"wrote {unit_path}")
    if shutil.which("systemctl") is None:
        print("systemctl not found: this machine does not run systemd; start 'bearing-agent run' yourself")
        return 1
    for cmd in steps:
        result = subprocess.run(cmd, check=False)
        if result.returncode != 0:
            print(f"bearing-agent install-service: '{' '.join(cmd)}' failed (exit {result.returncode})",
                  file=sys.stderr)
            return 1
    print(f"installed; follow it with: journalctl -u {UNIT_NAME} -f   and check: bearing-agent status "
          f"--config {config}")
    return 0
