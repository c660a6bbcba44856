"""``bearing-agent run``: the long-running service (systemd runs this).

SIGTERM and SIGINT stop it cleanly (outputs off, journal closed with a
``stop`` event); SIGHUP reloads the bundle from its configured path, keeping
the old one if the new one fails validation. Logs go to stdout, where
journald picks them up (``journalctl -u bearing-agent``).
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys

from edge_agent.config import ConfigError, load_config


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bundle", help="bundle directory or .tar.gz (overrides [agent] bundle)")
    p.add_argument("--port", help="serial device, pty or pyserial URL such as socket://host:port "
                                  "(overrides [serial] port)")
    p.add_argument("--config", help="agent.toml (default: built-in defaults; see edge_agent/agent.example.toml)")
    p.add_argument("--journal", help="SQLite journal path (overrides [journal] path)")
    p.add_argument("--interval", type=float, metavar="SECONDS",
                   help="score one snapshot every SECONDS (0 = every snapshot; overrides [agent] interval_s)")
    p.add_argument("--learn", action="store_true", default=None,
                   help="learning mode: no bundle, record features for retraining")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])


def setup_logging(level: str) -> None:
    """Log lines to stdout; under systemd (JOURNAL_STREAM set) without our own timestamp."""
    fmt = "%(levelname)s %(name)s: %(message)s"
    if not os.environ.get("JOURNAL_STREAM"):
        fmt = "%(asctime)s " + fmt
    logging.basicConfig(level=level, format=fmt, stream=sys.stdout, force=True)


def config_from_args(args: argparse.Namespace):
    """The configuration file with the command line's overrides applied (raises ConfigError)."""
    config = load_config(args.config)
    config = config.replace("agent", bundle=args.bundle, interval_s=args.interval, learn=args.learn)
    config = config.replace("serial", port=args.port)
    return config.replace("journal", path=getattr(args, "journal", None))


def main(args: argparse.Namespace) -> int:
    setup_logging(args.log_level)
    log = logging.getLogger("edge_agent")
    try:
        config = config_from_args(args)
    except ConfigError as exc:
        print(f"bearing-agent: configuration refused: {exc}", file=sys.stderr)
        return 2
    from edge_agent.journal import JournalError
    from edge_agent.service import Agent, AgentError

    try:
        agent = Agent(config)
    except (AgentError, JournalError) as exc:
        print(f"bearing-agent: not started: {exc}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: agent.stop())
    signal.signal(signal.SIGINT, lambda *_: agent.stop())
    signal.signal(signal.SIGHUP, lambda *_: agent.request_reload())
    log.info("pid %d: SIGTERM stops, SIGHUP reloads the bundle", os.getpid())
    agent.run()
    return 0
