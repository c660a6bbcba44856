"""Issue 21 #31: ``--help`` shows no raw reStructuredText (````bearing-replay````, ``:func:`...```) from the docstrings."""
from __future__ import annotations

import subprocess
import sys

import pytest

from firmware_io.cli_support import help_text
from tests.conftest import import_or_skip_desktop

MARKUP = ("``", ":func:`", ":mod:`", ":class:`", ":meth:`", ":data:`")


def test_help_text_keeps_the_words_and_drops_the_markup():
    assert help_text("``bearing-replay``: see :func:`~firmware_io.x.run` and :mod:`edge_agent`") == \
        "bearing-replay: see firmware_io.x.run and edge_agent"


@pytest.mark.parametrize("module, args", [
    ("edge_agent.cli.main", []), ("edge_agent.cli.main", ["run"]), ("train.cli", []), ("train.cli", ["pack"]),
    ("convert.cli", []), ("firmware_io.simulator.replay_cli", []), ("benchmarks.cli", []),
    ("demo", []), ("demo.commission", []),
])
def test_every_commands_help_is_plain_text(module, args):
    if module in ("convert.cli", "benchmarks.cli", "demo", "demo.commission", "train.cli"):
        import_or_skip_desktop(module)
    done = subprocess.run([sys.executable, "-m", module, *args, "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert not [m for m in MARKUP if m in done.stdout], done.stdout
