"""The options every journal-reading subcommand shares: which journal, directly or through the config."""
from __future__ import annotations

import argparse

from edge_agent.journal import Journal
from edge_agent.status import open_journal


def add_journal_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--journal", help="journal path (default: [journal] path of --config, or the built-in default)")
    p.add_argument("--config", help="agent.toml to take the journal path from")


def journal_from_args(args: argparse.Namespace, *, write: bool = False) -> Journal:
    """The journal the options name, read-only unless ``write`` (raises JournalError or ConfigError with the path)."""
    return open_journal(args.journal, args.config, write=write)
