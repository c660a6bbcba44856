"""``bearing-agent web``: the local status page, a small process of its own beside the agent.

It reads the agent's journal read-only and serves the page and its JSON API
(:mod:`edge_agent.web.server`); a stalled or crashed page can never stall the
agent, and the agent never waits for a browser. It binds 127.0.0.1 unless
``--listen`` (or ``[web] listen``) says otherwise; any other address needs
``[web] token_file``. SIGTERM and SIGINT stop it.
"""
from __future__ import annotations

import argparse
import logging
import signal
import threading

from edge_agent.cli.logs import add_log_level, setup_logging
from edge_agent.config import ConfigError, load_config
from edge_agent.web.server import StatusServer, parse_listen, read_token


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="agent.toml: the [journal] path and the [web] section")
    p.add_argument("--journal", help="journal path (overrides [journal] path)")
    p.add_argument("--listen", metavar="HOST:PORT",
                   help="address to serve on (overrides [web] listen; default 127.0.0.1:8080, this machine only)")
    add_log_level(p, "where it listens, refused requests")


def run(args: argparse.Namespace) -> int:
    setup_logging(args.log_level)
    config = load_config(args.config)
    web = config.web
    try:
        host, port = parse_listen(args.listen or web.listen)
        token = read_token(web.token_file) if web.token_file else None
        server = StatusServer((host, port), args.journal or config.journal.path, token=token,
                              allowed_hosts=tuple(web.allowed_hosts))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    except OSError as exc:  # the port is taken, or a privileged one
        raise ConfigError(f"cannot listen on {host}:{port}: {exc}") from None
    # shutdown() waits for serve_forever to return, so it cannot run in the signal handler's own thread.
    stop = lambda *_: threading.Thread(target=server.shutdown, daemon=True).start()  # noqa: E731
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    bound_host, bound_port = server.server_address[:2]
    logging.getLogger("edge_agent.web").info(
        "status page on http://%s:%d/ for journal %s%s", bound_host if ":" not in bound_host else f"[{bound_host}]",
        bound_port, server.journal_path, " (token required)" if token else "")
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
    return 0
