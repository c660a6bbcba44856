"""``bearing-agent``: the device-side command.

Each subcommand is one module of this package exposing ``configure(parser)``
and ``run(args) -> int`` (see :mod:`firmware_io.cli_support`); this file only
names them, so ``bearing-agent run`` imports only what the service needs.
"""
from __future__ import annotations

import sys
from typing import Sequence

from firmware_io.cli_support import main_with_subcommands

#: subcommand -> (module, one-line help)
SUBCOMMANDS = {
    "run": ("edge_agent.cli.run", "run the agent: serial stream -> scores -> GPIO alarm -> journal"),
    "score": ("edge_agent.cli.score", "score a feature table offline with a bundle (the device's code path)"),
    "status": ("edge_agent.cli.status", "print the current state, last scores and counters from the journal"),
    "ack": ("edge_agent.cli.ack", "acknowledge a latched alarm"),
    "diagnose": ("edge_agent.cli.diagnose", "ask the agent for the physics diagnosis of the next running snapshot"),
    "rebaseline": ("edge_agent.cli.rebaseline", "ask the agent for a new baseline after a bearing change (logged)"),
    "export": ("edge_agent.cli.export", "export recorded features as a feature table for retraining"),
    "install-service": ("edge_agent.cli.install", "install the systemd unit on this machine"),
    "web": ("edge_agent.cli.web", "serve the local status page and its JSON API, read-only from the journal"),
    "publish": ("edge_agent.cli.publish", "publish the journal to MQTT (Home Assistant discovery) and Prometheus"),
    "deploy": ("edge_agent.cli.deploy",
               "update the bundle: inactive slot, verified, on probation beside the old one, then commit or rollback"),
    "check-bundle": ("edge_agent.cli.check_bundle",
                     "verify a bundle (checksums, schema, runtime) and print its manifest"),
}


def main(argv: Sequence[str] | None = None) -> int:
    return main_with_subcommands("bearing-agent", __doc__.splitlines()[0], SUBCOMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
