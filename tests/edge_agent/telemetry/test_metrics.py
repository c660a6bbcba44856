"""Prometheus metrics from ``bearing-agent publish``: promtool accepts them, the Grafana dashboard uses only them."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from benchmarks.mosquitto import Mosquitto, free_port
from edge_agent.telemetry.metrics import CONDITION_GAUGES, METRIC_NAMES
from tests.agent_fixtures import wait_for
from tests.conftest import require_executable
from tests.edge_agent.telemetry.fake_agent import fill

DASHBOARD = Path(__file__).resolve().parents[3] / "docs" / "grafana" / "bearing-edge-fleet.json"


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    b = Mosquitto(tmp_path_factory.mktemp("broker"), require=require_executable).start()
    yield b
    b.stop()


def toml_table(name: str, values: dict) -> str:
    return f"[{name}]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items())


@pytest.fixture(scope="module")
def scraped(tmp_path_factory, broker):
    """One run of ``bearing-agent publish`` with MQTT, the HTTP endpoint and the textfile: (HTTP text, file text)."""
    tmp_path = tmp_path_factory.mktemp("publish")
    journal, textfile, port = tmp_path / "journal.sqlite", tmp_path / "bearing_edge.prom", free_port()
    fill(journal, 12)
    config = tmp_path / "agent.toml"
    config.write_text(toml_table("journal", {"path": str(journal)}) + toml_table("mqtt", broker.mqtt_section("node-m"))
                      + toml_table("metrics", {"http_port": port, "textfile": str(textfile),
                                               "textfile_interval_s": 0.2}))
    proc = subprocess.Popen([sys.executable, "-m", "edge_agent.cli.main", "publish", "--config", str(config)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        def scrape():
            try:
                return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
            except OSError:
                return ""
        # connected, and every row acknowledged: the backlog is 0
        wait_for(lambda: 'bearing_edge_outbox_backlog{node="node-m",stream="snapshot"} 0.0' in scrape()
                 and "bearing_edge_mqtt_connected" in scrape(), 30, "a scrape with the backlog sent")
        fill(journal, 1, start=12)  # a row journaled while it runs: the latency histogram sees it
        # the metrics see the row when they read it, the message counter when the broker acknowledged it
        wait_for(lambda: 'bearing_edge_alarm_latency_seconds_count{node="node-m"} 1.0' in scrape()
                 and 'bearing_edge_inference_seconds_count{node="node-m"} 1.0' in scrape()
                 and 'bearing_edge_mqtt_messages_total{node="node-m",stream="snapshot"} 13.0' in scrape(), 30,
                 "the new row's latency, its inference time and its acknowledged message")
        wait_for(lambda: textfile.exists() and "bearing_edge_alarm_latency_seconds_count" in textfile.read_text()
                 and 'seconds_count{node="node-m"} 1.0' in textfile.read_text(), 10, "the textfile")
        http = scrape()
    finally:
        proc.terminate()
        out = proc.communicate(timeout=20)[0]
    assert proc.returncode == 0, out
    assert f"Prometheus metrics on http://127.0.0.1:{port}/metrics" in out
    return http, textfile.read_text()


def test_promtool_accepts_the_endpoint_and_the_textfile(scraped):
    promtool = require_executable("promtool", "prometheus")
    for text in scraped:
        proc = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert proc.stdout + proc.stderr == ""  # not even a lint warning


def test_metrics_carry_the_journal_figures(scraped):
    http, _ = scraped
    values = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in http.splitlines()
              if line and not line.startswith("#")}
    assert values['bearing_edge_error{node="node-m"}'] == pytest.approx(1.2)  # the last row's error (0.1 * 12)
    assert values['bearing_edge_threshold{node="node-m"}'] == 0.3
    assert values['bearing_edge_agent_up{node="node-m"}'] == 1.0
    assert values['bearing_edge_mqtt_connected{node="node-m"}'] == 1.0
    assert values['bearing_edge_alarm_latency_seconds_bucket{le="0.002",node="node-m"}'] == 1.0  # 1.2 ms
    assert values['bearing_edge_alarm_latency_seconds_bucket{le="0.001",node="node-m"}'] == 0.0
    assert values['bearing_edge_inference_seconds_bucket{le="0.0005",node="node-m"}'] == 1.0  # 0.4 ms
    assert values['bearing_edge_inference_seconds_bucket{le="0.0002",node="node-m"}'] == 0.0
    assert values['bearing_edge_inference_seconds_bucket{le="1.0",node="node-m"}'] == 1.0  # the largest bucket
    assert values['bearing_edge_inference_seconds_sum{node="node-m"}'] == pytest.approx(0.0004)
    assert values['bearing_edge_mqtt_messages_total{node="node-m",stream="snapshot"}'] == 13.0
    names = {re.match(r"[a-z_]+", k).group(0) for k in values}
    # the level and the machine state have no sample for rows journaled without them (learning, older journals)
    assert names <= METRIC_NAMES and names >= METRIC_NAMES - {"bearing_edge_error", "bearing_edge_threshold",
                                                              "bearing_edge_level", "bearing_edge_machine_running",
                                                              *CONDITION_GAUGES}


def test_grafana_dashboard_uses_only_metrics_the_exporter_emits(scraped):
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    exprs.append(dashboard["templating"]["list"][0]["query"]["query"])
    used = {name for e in exprs for name in re.findall(r"\bbearing_edge_[a-z_]+", e)}
    emitted = {re.match(r"[a-z_]+", line).group(0) for line in scraped[0].splitlines()
               if line and not line.startswith("#")}
    assert used, "the dashboard queries no metric"
    assert used <= emitted, sorted(used - emitted)
    assert {"bearing_edge_error", "bearing_edge_threshold", "bearing_edge_alarm", "bearing_edge_fault",
            "bearing_edge_outbox_backlog", "bearing_edge_inference_seconds_bucket"} <= used  # what the issues ask
    assert dashboard["__inputs"][0]["pluginId"] == "prometheus"  # importable with a datasource prompt
