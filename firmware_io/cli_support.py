"""How every console command of the kit is built: one module per subcommand, imported only when chosen.

A subcommand module exposes two functions and nothing else is asked of it:

- ``configure(parser)`` adds its options to an ``argparse.ArgumentParser``;
- ``run(args) -> int`` calls the core, prints, and returns the exit code.

A command with subcommands (``bearing-agent``, ``bearing-train``) is a table
``name -> (module, one-line help)`` handed to :func:`main_with_subcommands`;
a command without (``bearing-convert``, ``bearing-replay``, ``bearing-bench``)
hands its own module to :func:`main_single`.

Only the chosen subcommand's module is imported: ``bearing-agent run`` is a
long-running service on a small device, and the other subcommands' modules
(and what they import) would sit in its memory for nothing.

Errors: a :class:`~firmware_io.errors.BearingEdgeError` is a problem the user
can fix, so it is printed as ``<command>: error: <message>`` on stderr, without
a traceback, and the command exits with the error's ``exit_code`` (2, as
argparse does for a bad command line). Nothing broader is caught: any other
exception is a bug and keeps its traceback. This module lives in
``firmware_io``, the lowest package, so every command can use it.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from types import ModuleType
from typing import Callable, Mapping, Sequence

from firmware_io.errors import BearingEdgeError

#: subcommand name -> (module that implements it, one-line help)
Subcommands = Mapping[str, tuple[str, str]]

#: Exit code after Ctrl-C, the shell's own convention (128 + SIGINT).
EXIT_INTERRUPTED = 130


def chosen_subcommand(argv: Sequence[str], subcommands: Subcommands) -> str | None:
    """The subcommand named on the command line (its first non-option word), if it is one."""
    word = next((a for a in argv if not a.startswith("-")), None)
    return word if word in subcommands else None


def build_parser(prog: str, description: str, subcommands: Subcommands,
                 chosen: str | None = None) -> argparse.ArgumentParser:
    """The parser of a command with subcommands; only ``chosen``'s module is imported and configured.

    With ``chosen`` None (no subcommand named, or ``--help``), every subcommand
    is configured so that the help lists them all.
    """
    parser = argparse.ArgumentParser(prog=prog, description=description)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in subcommands.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        if chosen is None or name == chosen:
            importlib.import_module(module).configure(p)
    return parser


def run_reporting_errors(command: str, run: Callable[[argparse.Namespace], int | None],
                         args: argparse.Namespace) -> int:
    """``run(args)``, with a :class:`BearingEdgeError` turned into one line on stderr and its exit code."""
    try:
        return int(run(args) or 0)
    except BearingEdgeError as exc:
        print(f"{command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def main_with_subcommands(prog: str, description: str, subcommands: Subcommands,
                          argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), run the chosen subcommand, return its exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(prog, description, subcommands, chosen_subcommand(argv, subcommands)).parse_args(argv)
    module = importlib.import_module(args._module)
    return run_reporting_errors(f"{prog} {args.command}", module.run, args)


def main_single(prog: str, module: ModuleType, argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` with ``module.configure``, run ``module.run``, return its exit code.

    The description is the first line of the module's docstring.
    """
    parser = argparse.ArgumentParser(prog=prog, description=(module.__doc__ or "").strip().splitlines()[0])
    module.configure(parser)
    args = parser.parse_args(None if argv is None else list(argv))
    return run_reporting_errors(prog, module.run, args)
