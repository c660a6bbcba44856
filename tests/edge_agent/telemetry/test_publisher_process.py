"""The publisher as a process beside others: one per journal, and a metrics textfile that fails (issue 21 #8, #10).

No broker is needed: ``[metrics] textfile`` alone is something to publish.
"""
from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from edge_agent.config import parse_config
from edge_agent.telemetry.metrics import TelemetryMetrics
from edge_agent.telemetry.publisher import Publisher
from tests.agent_fixtures import wait_for
from tests.support.logged_process import LoggedProcess
from tests.edge_agent.telemetry.fake_agent import fill

REPO = Path(__file__).resolve().parents[3]


def textfile_config(tmp_path, textfile: Path):
    toml = tmp_path / "agent.toml"
    toml.write_text(f'[journal]\npath = "{tmp_path / "journal.sqlite"}"\n'
                    f'[metrics]\ntextfile = "{textfile}"\ntextfile_interval_s = 0.2\n[mqtt]\npoll_s = 0.1\n')
    return toml


def test_a_second_publisher_on_the_same_journal_names_the_first_and_exits(tmp_path):
    """Item 8: two publishers on one journal published every row twice and took each other's session."""
    fill(tmp_path / "journal.sqlite", 3)
    (tmp_path / "prom").mkdir()
    config = textfile_config(tmp_path, tmp_path / "prom" / "bearing_edge.prom")
    command = [sys.executable, "-m", "edge_agent.cli.main", "publish", "--config", str(config)]
    first = LoggedProcess(command, tmp_path / "first.log", cwd=REPO)
    try:
        wait_for(lambda: (tmp_path / "prom" / "bearing_edge.prom").exists() or first.poll() is not None, 60,
                 "the first publisher's textfile")
        assert first.poll() is None, first.output()
        second = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)
        assert second.returncode != 0
        assert f"another publisher (pid {first.pid}) is using this journal" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        first.stop(timeout=30)


def test_a_textfile_that_cannot_be_written_is_logged_once_and_publishing_goes_on(tmp_path, caplog):
    """Item 10: a failed textfile write killed the publisher (traceback, restart loop, no MQTT meanwhile)."""
    fill(tmp_path / "journal.sqlite", 3)
    folder = tmp_path / "prom"
    folder.mkdir()
    textfile = folder / "bearing_edge.prom"
    config = parse_config({"journal": {"path": str(tmp_path / "journal.sqlite")}, "mqtt": {"poll_s": 0.1},
                           "metrics": {"textfile": str(textfile), "textfile_interval_s": 0.2}}, "<test>")
    publisher = Publisher(config, metrics=TelemetryMetrics("node-a"))
    thread = threading.Thread(target=publisher.run, daemon=True)
    with caplog.at_level(logging.INFO, logger="edge_agent.telemetry"):
        thread.start()
        try:
            wait_for(textfile.exists, 30, "the textfile")
            shutil.rmtree(folder)  # node_exporter's directory gone (a remount, a cleanup)
            time.sleep(1.5)  # several textfile intervals
            assert thread.is_alive()
            failed = [r.getMessage() for r in caplog.records if "cannot write it" in r.getMessage()]
            assert len(failed) == 1 and f"[metrics] textfile = {textfile}" in failed[0]
            folder.mkdir()
            wait_for(textfile.exists, 30, "the textfile written again")
            assert any("written again" in r.getMessage() for r in caplog.records)
        finally:
            publisher.stop()
            thread.join(15)
    assert not thread.is_alive()


def test_a_textfile_directory_that_is_missing_at_start_is_a_clear_error(tmp_path):
    fill(tmp_path / "journal.sqlite", 1)
    config = textfile_config(tmp_path, tmp_path / "missing" / "bearing_edge.prom")
    done = subprocess.run([sys.executable, "-m", "edge_agent.cli.main", "publish", "--config", str(config)],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert f"its directory {tmp_path / 'missing'} does not exist" in done.stderr and "Traceback" not in done.stderr



def test_histograms_count_every_row_since_the_agent_started_and_again_after_a_restart(tmp_path):
    """Item 12: the histograms counted 24 of 25 rows, and 0 after a publisher restart."""
    from edge_agent.journal import Journal
    from tests.edge_agent.telemetry.fake_agent import heartbeat

    path = tmp_path / "journal.sqlite"
    fill(path, 3)  # an earlier run of the agent: not this start's
    time.sleep(0.05)
    started = time.time()
    time.sleep(0.05)
    fill(path, 25, start=3)

    def counts() -> tuple[float, float]:
        metrics = TelemetryMetrics("node-h")  # a new publisher process
        j = Journal(path, create=False)
        try:
            last = j.snapshots(last=1)[0]
            metrics.update(j, heartbeat=heartbeat(started=started), running=True, counters=j.counters(),
                           last_row=last, backlog={}, connected=None, published={})
        finally:
            j.close()
        get = metrics.registry.get_sample_value
        return (get("bearing_edge_alarm_latency_seconds_count", {"node": "node-h"}),
                get("bearing_edge_inference_seconds_count", {"node": "node-h"}))

    assert counts() == (25.0, 25.0)
    assert counts() == (25.0, 25.0)  # restarted: the same rows again, not zero
