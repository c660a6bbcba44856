"""``bearing-agent run``: the long-running service (systemd runs this).

SIGTERM and SIGINT stop it cleanly (outputs off, journal closed with a
``stop`` event); SIGHUP reloads the bundle from its configured path, keeping
the old one if the new one fails validation. Logs go to stderr, where
journald picks them up (``journalctl -u bearing-agent``). A refused
configuration, bundle or journal ends it at once with exit status 2 and the
message on stderr (:mod:`firmware_io.cli_support`), so systemd shows why.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal

from edge_agent.cli.logs import add_log_level, setup_logging
from edge_agent.config import Config, load_config
from firmware_io.cli_support import EXIT_INTERRUPTED


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bundle", help="bundle directory or .tar.gz (overrides [agent] bundle)")
    p.add_argument("--port", help="serial device, pty or pyserial URL such as socket://host:port "
                                  "(overrides [serial] port)")
    p.add_argument("--config", help="agent.toml (default: built-in defaults; see edge_agent/agent.example.toml)")
    p.add_argument("--journal", help="SQLite journal path (overrides [journal] path)")
    p.add_argument("--interval", type=float, metavar="SECONDS",
                   help="score one snapshot every SECONDS (0 = every snapshot; overrides [agent] interval_s)")
    p.add_argument("--learn", action="store_true", default=None,
                   help="learning mode: no bundle, record features for retraining")
    add_log_level(p, "starts, stops, faults, alarms")



def config_from_args(args: argparse.Namespace) -> Config:
    """The configuration file with the command line's overrides applied (raises ConfigError)."""
    config = load_config(args.config)
    config = config.replace("agent", bundle=args.bundle, interval_s=args.interval, learn=args.learn)
    config = config.replace("serial", port=args.port)
    return config.replace("journal", path=args.journal)


def run(args: argparse.Namespace) -> int:
    setup_logging(args.log_level)
    config = config_from_args(args)
    from edge_agent.service import Agent  # after the config is accepted: a refusal costs no imports

    agent = Agent(config)
    interrupted = []  # Ctrl-C ends like any interrupted command (130, docs/cli.md); SIGTERM is a service stop (0)
    signal.signal(signal.SIGTERM, lambda *_: agent.stop())
    signal.signal(signal.SIGINT, lambda *_: (interrupted.append(True), agent.stop()))
    signal.signal(signal.SIGHUP, lambda *_: agent.request_reload())
    logging.getLogger("edge_agent").info("pid %d: SIGTERM stops, SIGHUP reloads the bundle", os.getpid())
    agent.run()
    return EXIT_INTERRUPTED if interrupted else 0
