"""``bearing-agent``: the device-side command.

Each subcommand lives in its own module, which exposes
``configure_parser(subparser)`` and ``main(args) -> int``; this file only wires
them together, so it never imports more than the chosen subcommand needs.
"""
from __future__ import annotations

import argparse
import importlib
import sys

#: subcommand -> (module, one-line help)
SUBCOMMANDS = {
    "run": ("edge_agent.cli.run", "run the agent: serial stream -> scores -> GPIO alarm -> journal"),
    "score": ("edge_agent.cli.score", "score a feature table offline with a bundle (the device's code path)"),
    "status": ("edge_agent.cli.status", "print the current state, last scores and counters from the journal"),
    "ack": ("edge_agent.cli.status", "acknowledge a latched alarm"),
    "export": ("edge_agent.cli.export", "export recorded features as a feature table for retraining"),
    "install-service": ("edge_agent.cli.install", "install the systemd unit on this machine"),
    "check-bundle": ("edge_agent.cli.score", "verify a bundle (checksums, schema, runtime) and print its manifest"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``command``, only that subcommand's module is imported and its options added.

    ``bearing-agent run`` is a long-running service on a small device: the other
    subcommands' modules (and what they import) would stay in its memory for nothing.
    """
    parser = argparse.ArgumentParser(prog="bearing-agent", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        if command is None or name == command:
            mod = importlib.import_module(module)
            configure = getattr(mod, f"configure_{name.replace('-', '_')}", None) or mod.configure_parser
            configure(p)
    return parser


def _command(argv: list[str]) -> str | None:
    """The subcommand named on the command line (the first non-option word), if it is one."""
    word = next((a for a in argv if not a.startswith("-")), None)
    return word if word in SUBCOMMANDS else None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(_command(argv)).parse_args(argv)
    mod = importlib.import_module(args._module)
    run = getattr(mod, f"main_{args.command.replace('-', '_')}", None) or mod.main
    return int(run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
