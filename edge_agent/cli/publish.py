"""``bearing-agent publish``: the journal to MQTT (Home Assistant discovery) and Prometheus metrics.

Runs beside ``bearing-agent run`` (its own systemd unit or terminal) with the
same ``agent.toml``: ``[mqtt]`` says where to publish, ``[metrics]`` whether
to serve or write Prometheus metrics, ``[journal] path`` what to follow.
SIGTERM and SIGINT stop it cleanly (``offline`` retained, cursor saved).
A setting that cannot work (no password file, a busy metrics port) ends it
at once with exit status 2 and the message on stderr; a broker that cannot
be reached does not: it is retried with back-off, and each failure is logged.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
from pathlib import Path

from edge_agent.cli.logs import add_log_level, setup_logging
from edge_agent.config import ConfigError, load_config


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="agent.toml with [mqtt] and/or [metrics] (the agent's own file)")
    p.add_argument("--journal", help="journal to follow (overrides [journal] path)")
    p.add_argument("--node-id", help="this machine's name in the topics (overrides [mqtt] node_id)")
    add_log_level(p, "connections, refusals, back-offs")


def run(args: argparse.Namespace) -> int:
    setup_logging(args.log_level)
    config = load_config(args.config)
    config = config.replace("journal", path=args.journal).replace("mqtt", node_id=args.node_id)
    m = config.metrics
    if not config.mqtt.enabled and not m.http_port and not m.textfile:
        raise ConfigError(f"{args.config or '<defaults>'}: nothing to publish: set [mqtt] enabled = true, "
                          "or [metrics] http_port or textfile")
    if m.textfile:  # checked now: later a failed write is only logged (MQTT must go on)
        folder = Path(m.textfile).parent
        if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
            raise ConfigError(f"[metrics] textfile = {m.textfile}: its directory {folder} "
                              f"{'is not writable by this user' if folder.is_dir() else 'does not exist'}; use "
                              "node_exporter's textfile directory (--collector.textfile.directory), writable by "
                              "the publisher's user")
    from edge_agent.telemetry.metrics import TelemetryMetrics
    from edge_agent.telemetry.publisher import Publisher
    from edge_agent.telemetry.topics import Topics

    metrics = TelemetryMetrics(Topics.from_config(config.mqtt).node_id) if (m.http_port or m.textfile) else None
    publisher = Publisher(config, metrics=metrics)
    if metrics is not None and m.http_port:
        try:
            metrics.serve(m.http_port, m.http_addr)
        except OSError as exc:
            raise ConfigError(f"[metrics] http_port = {m.http_port}: cannot serve on {m.http_addr}: "
                              f"{exc.strerror} (choose a free port)") from None
        logging.getLogger("edge_agent.telemetry").info("Prometheus metrics on http://%s:%d/metrics",
                                                       m.http_addr, m.http_port)
    signal.signal(signal.SIGTERM, lambda *_: publisher.stop())
    signal.signal(signal.SIGINT, lambda *_: publisher.stop())
    publisher.run()
    return 0
