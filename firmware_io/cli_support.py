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
argparse does for a bad command line; the codes are :data:`EXIT_CODES`, tabled in docs/cli.md). Nothing broader is caught: any other
exception is a bug and keeps its traceback, with two exceptions that are not
bugs: a closed pipe (``bearing-agent status | head``) ends the command
quietly with the shell's 141, and a desktop command run on an edge-only
install (``ModuleNotFoundError`` for TensorFlow, scikit-learn, pandas, ...)
says which extra to install (:func:`entry_point`). Every command has
``--version``. This module lives in ``firmware_io``, the lowest package, so
every command can use it.
"""
from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
from types import ModuleType
from typing import Callable, Mapping, Sequence

from firmware_io.errors import BearingEdgeError

#: subcommand name -> (module that implements it, one-line help)
Subcommands = Mapping[str, tuple[str, str]]

# The exit codes of every command, one convention (docs/cli.md has the table; tests check both agree).
#: Done, whatever was found (an alarm in ``status`` is a state, not a failure).
EXIT_OK = 0
#: The command ran but its answer is no: nothing to export (like grep finding nothing), a benchmark
#: missed its goal, ``install-service`` could not enable the unit.
EXIT_NEGATIVE = 1
#: Exit code of a refused command line or a problem the user can fix (argparse's own): bad input,
#: a refused bundle, config, model directory or feature table, a failed parity gate.
EXIT_USAGE = 2
#: A condition that can end by itself (``EX_TEMPFAIL`` of sysexits.h): the journal is locked by another
#: agent, read-only, or SQLite cannot open it now; systemd's ``Restart=on-failure`` retries it.
EXIT_TEMPORARY = 75
#: Exit code after Ctrl-C, the shell's own convention (128 + SIGINT).
EXIT_INTERRUPTED = 130
#: Exit code when the reader of stdout went away (``| head``): the shell's 128 + SIGPIPE.
EXIT_BROKEN_PIPE = 141
#: All of them, for the documentation test.
EXIT_CODES = (EXIT_OK, EXIT_NEGATIVE, EXIT_USAGE, EXIT_TEMPORARY, EXIT_INTERRUPTED, EXIT_BROKEN_PIPE)

#: top-level module -> the extra that installs it, for a command run without its extra
EXTRA_OF_MODULE = {"tensorflow": "train", "keras": "train", "sklearn": "train", "pandas": "train",
                   "matplotlib": "train", "joblib": "train", "tqdm": "train", "rich": "dev", "psutil": "dev",
                   "pytest": "dev", "hypothesis": "dev"}


class _VersionAction(argparse.Action):
    """``--version``: the installed distribution's version, looked up only when asked.

    ``importlib.metadata`` costs the agent ~1 MiB of resident memory for a
    string nobody asked for, so it is imported here, not at start.
    """

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0,
                         help=help or "print the version of bearing-edge and exit")

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"{parser.prog} {package_version()}")
        parser.exit()


def package_version() -> str:
    """The installed ``bearing-edge`` version, or a note that this is an uninstalled source tree."""
    from importlib import metadata

    try:
        return metadata.version("bearing-edge")
    except metadata.PackageNotFoundError:
        return "(source tree, not installed)"


def add_version(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--version", action=_VersionAction)


def chosen_subcommand(argv: Sequence[str], subcommands: Subcommands) -> str | None:
    """The subcommand named on the command line (its first non-option word), if it is one."""
    word = next((a for a in argv if not a.startswith("-")), None)
    return word if word in subcommands else None


def help_text(text: str) -> str:
    """A docstring's text as ``--help`` shows it: reStructuredText's markup (````x````, ``:func:`x```) taken out."""
    text = re.sub(r":[a-z]+:`~?([^`]+)`", r"\1", text)
    return re.sub(r"``([^`]+)``", r"\1", text)


def build_parser(prog: str, description: str, subcommands: Subcommands,
                 chosen: str | None = None) -> argparse.ArgumentParser:
    """The parser of a command with subcommands; only ``chosen``'s module is imported and configured.

    With ``chosen`` None (no subcommand named, or ``--help``), every subcommand
    is configured so that the help lists them all.
    """
    parser = argparse.ArgumentParser(prog=prog, description=help_text(description))
    add_version(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, one_line) in subcommands.items():
        p = sub.add_parser(name, help=help_text(one_line), description=help_text(one_line))
        p.set_defaults(_module=module)
        if chosen is None or name == chosen:
            importlib.import_module(module).configure(p)
    return parser


def run_reporting_errors(command: str, run: Callable[[argparse.Namespace], int | None],
                         args: argparse.Namespace) -> int:
    """``run(args)``, with a :class:`BearingEdgeError` turned into one line on stderr and its exit code."""
    try:
        code = int(run(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit as "Exception ignored"
        return code
    except BearingEdgeError as exc:
        print(f"{command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader (head, less) has what it wanted. Point stdout at /dev/null so that the
        # interpreter's final flush does not raise again, and end like any piped Unix tool.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_BROKEN_PIPE


def main_with_subcommands(prog: str, description: str, subcommands: Subcommands,
                          argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), run the chosen subcommand, return its exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(prog, description, subcommands, chosen_subcommand(argv, subcommands)).parse_args(argv)
    module = importlib.import_module(args._module)
    return run_reporting_errors(f"{prog} {args.command}", module.run, args)


def main_single(prog: str, module: ModuleType, argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` with ``module.configure``, run ``module.run``, return its exit code.

    The description is the first line of the module's docstring (:func:`help_text`).
    """
    parser = argparse.ArgumentParser(prog=prog, description=help_text((module.__doc__ or "").strip().splitlines()[0]))
    add_version(parser)
    module.configure(parser)
    args = parser.parse_args(None if argv is None else list(argv))
    return run_reporting_errors(prog, module.run, args)


def missing_extra(exc: ModuleNotFoundError) -> str | None:
    """The extra that would install the module ``exc`` is about, or None if it is not an optional one."""
    return EXTRA_OF_MODULE.get((exc.name or "").split(".")[0])


def entry_point(command: str, target: str) -> int:
    """Run ``target`` (``"package.module:function"``), the real ``main`` of the console command ``command``.

    The console scripts point here rather than at their module so that a
    desktop command on an edge-only install (``pip install '.[edge]'`` puts
    ``bearing-train`` on PATH too) prints which extra to install instead of a
    ``ModuleNotFoundError`` traceback, whether the import fails at start or
    inside a subcommand.
    """
    module_name, _, function = target.partition(":")
    try:
        return int(getattr(importlib.import_module(module_name), function)() or 0)
    except ModuleNotFoundError as exc:
        extra = missing_extra(exc)
        if extra is None:
            raise
        print(f"{command}: error: {command} needs the [{extra}] extra ({exc.name.split('.')[0]} is not installed): "
              f"pip install 'bearing-edge[{extra}]' (from a source tree: pip install '.[{extra}]')",
              file=sys.stderr)
        return EXIT_USAGE


def bearing_train() -> int:
    return entry_point("bearing-train", "train.cli:main")


def bearing_convert() -> int:
    return entry_point("bearing-convert", "convert.cli:main")


def bearing_bench() -> int:
    return entry_point("bearing-bench", "benchmarks.cli:main")
