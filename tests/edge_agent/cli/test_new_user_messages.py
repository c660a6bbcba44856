"""Issue 11 #22: what a new user read that was wrong or missing (one test per message)."""
from __future__ import annotations

import inspect
import logging
import re
import types
from pathlib import Path

from edge_agent.cli import main as cli

REPO = Path(__file__).resolve().parents[3]


def test_every_default_baudrate_meets_what_protocol_md_asks_of_a_uart():
    from edge_agent.config import Config
    from edge_agent.stream.serial_link import SerialLink
    from firmware_io.simulator import ports, replay_cli

    text = (REPO / "firmware_io" / "protocol" / "PROTOCOL.md").read_text()
    needed = float(re.search(r"for a real UART use at least (\d+(?:\.\d+)?) Mbaud", text).group(1)) * 1e6
    example = re.search(r"(?m)^baudrate = (\d+)$", (REPO / "edge_agent" / "agent.example.toml").read_text())
    import argparse

    parser = argparse.ArgumentParser()
    replay_cli.configure(parser)
    defaults = {"config": Config().serial.baudrate, "example config": int(example.group(1)),
                "serial link": inspect.signature(SerialLink).parameters["baudrate"].default,
                "replay port": inspect.signature(ports.SerialPort).parameters["baudrate"].default,
                "bearing-replay --baudrate": parser.get_default("baudrate")}
    assert all(v >= needed for v in defaults.values()), defaults


def test_the_log_calls_a_sample_index_a_sample_not_a_snapshot(caplog):
    from edge_agent.journal import SnapshotRow
    from edge_agent.outputs.log_sink import LogSink

    def row(t, first_index, **kw) -> SnapshotRow:
        base = dict(time=t, first_index=first_index, stream_id=None, features=[0.1, 0.2], error=None,
                    threshold=None, over_threshold=None, alarm=None, state="normal", bundle_id="b1", latency_ms=1.0)
        return SnapshotRow(**{**base, **kw})

    with caplog.at_level(logging.INFO, logger="edge_agent"):
        LogSink().on_snapshot(row(1.7e9, 40960, error=0.1, threshold=0.5, over_threshold=False, alarm=False))
        LogSink().on_snapshot(row(1.7e9, 61440, bundle_id=None))
    assert "snapshot from sample 40960 @" in caplog.text and "snapshot from sample 61440 @" in caplog.text
    assert "snapshot 40960" not in caplog.text


def test_check_bundle_shows_the_sample_rate_and_snapshot_length_to_compare(monkeypatch, capsys):
    from edge_agent.features.spec import FeatureSpec
    from edge_agent.scoring import bundle as bundle_module

    spec = FeatureSpec(channel_names=("b1", "b2"), sample_rate_hz=25600, samples_per_snapshot=4096)
    fake = types.SimpleNamespace(spec=spec)
    summary = {"bundle_id": "abc", "schema_version": 1, "variant": "float32", "runtime": "ai-edge-litert",
               "threshold": 0.3, "debounce": 3, "timesteps": 1, "channels": ["b1", "b2"], "variants": {}}
    monkeypatch.setattr(bundle_module, "load_bundle", lambda *a, **k: fake)
    monkeypatch.setattr(bundle_module, "describe", lambda b: dict(summary))
    assert cli.main(["check-bundle", "some-bundle"]) == 0
    out = capsys.readouterr().out
    assert "2 channels ['b1', 'b2'] at 25600 Hz, 4096 samples per snapshot" in out
