"""``bearing-agent install-service``: install the systemd unit shipped with the package.

It fills the shipped ``bearing-agent.service`` in for this machine
(:mod:`edge_agent.systemd_unit`: the ``bearing-agent`` of this environment,
the user to run as, the config path, the journal's directory), creates the
service's user as a system user (no login) when it does not exist yet
(``bearing-agent`` by default), writes the unit to ``/etc/systemd/system``, puts the
example configuration at the config path if none is there, and enables and
starts the service. Use ``--dry-run`` to see the unit without changing anything.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from edge_agent.config import example_config_path, load_config
from edge_agent.systemd_unit import (SERVICE_USER, UNIT_NAME, WEB_UNIT_NAME, agent_executable,
                                     create_user_command, render_unit, systemctl_commands, user_exists,
                                     write_unit_and_config)


def configure(p: argparse.ArgumentParser) -> None:
    # Not the user who ran sudo (root when logged in as root): a dedicated account with only the
    # serial and GPIO groups is what the unit's sandbox is designed around.
    p.add_argument("--user", default=SERVICE_USER,
                   help=f"user the service runs as, created as a system user if missing (default: {SERVICE_USER})")
    p.add_argument("--config", default="/etc/bearing-agent/agent.toml",
                   help="configuration file (created from the example if missing)")
    p.add_argument("--unit-dir", default="/etc/systemd/system", help="where systemd units live")
    p.add_argument("--no-start", action="store_true", help="install and enable, but do not start now")
    p.add_argument("--dry-run", action="store_true", help="print the unit and the steps, change nothing")
    p.add_argument("--web", action="store_true",
                   help=f"install the status page's unit ({WEB_UNIT_NAME}: bearing-agent web) instead of the agent's")


def run(args: argparse.Namespace) -> int:
    name, subcommand = (WEB_UNIT_NAME, "web") if args.web else (UNIT_NAME, "run")
    config = Path(args.config)
    # the journal may live elsewhere than /var/lib/bearing-agent: its directory must be writable
    journal_dir = Path(load_config(config if config.exists() else None).journal.path).parent
    unit = render_unit(executable=agent_executable(), user=args.user, config=config, name=name,
                       subcommand=subcommand, journal_dir=journal_dir)
    unit_path = Path(args.unit_dir) / name
    commands = systemctl_commands(start=not args.no_start, name=name)
    if not user_exists(args.user):
        commands.insert(0, create_user_command(args.user))
    if args.dry_run:
        print(f"# would write {unit_path}:\n{unit}")
        if not config.exists():
            print(f"# would copy {example_config_path()} to {config}")
        for cmd in commands:
            print("# would run:", " ".join(cmd))
        return 0
    if write_unit_and_config(unit, args.unit_dir, config, name):
        print(f"wrote {config} from the example: edit port, bundle and pins, then "
              f"'sudo systemctl restart {name}'")
    print(f"wrote {unit_path}")
    if shutil.which("systemctl") is None:
        print("systemctl not found: this machine does not run systemd; start 'bearing-agent run' yourself")
        return 1
    for cmd in commands:
        result = subprocess.run(cmd, check=False)
        if result.returncode != 0:
            print(f"bearing-agent install-service: error: '{' '.join(cmd)}' failed (exit {result.returncode})",
                  file=sys.stderr)
            return 1
    print(f"installed; follow it with: journalctl -u {name} -f   and check: bearing-agent status "
          f"--config {config} (as root, or as a member of the service user's group)")
    return 0
