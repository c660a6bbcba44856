"""Issue 22 #5, "every step visible": the deploys of test_deploy_e2e seen from outside the node, as a plant sees them.

The node runs as on a Pi, with one agent.toml: the agent (in this process, so that the test holds its pty
stream between the steps), ``bearing-agent publish`` to a real Mosquitto and ``bearing-agent web`` as processes.
A subscriber on the node's ``state`` and ``event`` topics and the page in headless Chromium must see:

- B (its model cut short) refused: the state says ``rejected`` and still runs A, the event ``deploy_rejected``;
- C (alarms on healthy data) on probation in slot a, with the probation's progress, then rolled back to A by
  the agent itself on the first snapshot;
- D (the same decisions, another id) on probation, then committed after 3 running snapshots: slot a, D's id.

test_deploy_e2e checks the decisions themselves (the relay, the rows, the link) from the journal and the CLI.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time

import pytest
from gpiozero.pins.mock import MockFactory

from benchmarks.mosquitto import Message, Subscriber
from edge_agent import service
from tests.agent_fixtures import HeldReplay, agent_config, wait_for
from tests.e2e.test_agent_e2e import rows_so_far, run_in_thread
from tests.e2e.test_deploy_e2e import HEALTHY, cli_out
from tests.e2e.test_status_page import LAPTOP, WebProcess, chromium, page_text, wait_page
from tests.edge_agent.telemetry.test_publisher import broker  # noqa: F401 (the fixture: a real Mosquitto)
from tests.support.remade_bundles import alarms_on_healthy_data, remade, threshold_5_percent_higher

NODE = "pump-9"
STATE, EVENT = f"bearing-edge/{NODE}/state", f"bearing-edge/{NODE}/event"


def phase(state: dict) -> str | None:
    return (state.get("deploy") or {}).get("phase")


def states(sub: Subscriber) -> list[dict]:
    return [m.json() for m in sub.on(STATE)]


def state_seen(sub: Subscriber, what: str, since: float, lags: dict[str, float], **expected) -> dict:
    """Wait for a state message whose deploy ``phase`` and top-level fields are ``expected``; return it, and note in
    ``lags`` how long after ``since`` (time.monotonic()) the first such message arrived."""
    def match() -> Message | None:
        return next((m for m in sub.on(STATE) if all(
            (phase(m.json()) if k == "phase" else m.json().get(k)) == v for k, v in expected.items())), None)

    wait_for(lambda: match() is not None, 60,
             lambda: f"{what} on {STATE} (last: {states(sub)[-1:] or 'nothing'})")
    lags[what] = match().at - since
    return match().json()


def event_seen(sub: Subscriber, kind: str, n: int = 1) -> dict:
    """Wait for the ``n``-th event message of ``kind``; return it."""
    kinds = lambda: [m.json() for m in sub.on(EVENT) if m.json()["kind"] == kind]  # noqa: E731
    wait_for(lambda: len(kinds()) >= n, 60, f"event {kind} #{n} on {EVENT}")
    return kinds()[n - 1]


def facts_line(driver) -> str:
    return page_text(driver, "state-facts")


@pytest.mark.slow
def test_every_deploy_step_reaches_mqtt_and_the_page(tmp_path, broker, agent_bundle, resign, capsys,  # noqa: F811
                                                    monkeypatch):
    # No periodic flush: a deploy step can only reach the state topic by the write it makes at once (e37d37a);
    # while the replay is held no snapshot row carries a heartbeat either.
    monkeypatch.setattr(service, "FLUSH_S", 3600.0)
    a = shutil.copytree(agent_bundle, tmp_path / "bundles" / "v1")
    pointer = tmp_path / "bundle"
    pointer.symlink_to("bundles/v1")
    b = shutil.copytree(agent_bundle, tmp_path / "B")
    (b / "model_float32.tflite").write_bytes((b / "model_float32.tflite").read_bytes()[:-100])
    c = remade(agent_bundle, tmp_path / "C", resign, alarms_on_healthy_data)
    d = remade(agent_bundle, tmp_path / "D", resign, threshold_5_percent_higher)
    journal = tmp_path / "journal.sqlite"
    config_file = tmp_path / "agent.toml"  # what deploy, publish and web read; the agent gets the same sections
    mqtt = broker.mqtt_section(NODE)
    config_file.write_text(f'[agent]\nbundle = "{pointer}"\n[journal]\npath = "{journal}"\n[mqtt]\n'
                           + "".join(f"{k} = {json.dumps(v)}\n" for k, v in mqtt.items()))
    deploy = ("deploy", "--config", str(config_file), "--wait", "120")

    link = tmp_path / "ttyBEARING"
    replay = HeldReplay(HEALTHY, link, hold_before=(3, 5))
    sub = Subscriber(broker, [STATE, EVENT], client_id="plant-dashboard", persistent=False)
    publisher_log = tmp_path / "publisher.log"
    with publisher_log.open("w") as log:
        publisher = subprocess.Popen([sys.executable, "-m", "edge_agent.cli.main", "publish", "--config",
                                      str(config_file)], stdout=log, stderr=subprocess.STDOUT)
    config = agent_config(tmp_path, str(link), bundle=pointer, deploy={"probation_snapshots": 3, "probation_hours": 0})
    agent, thread = run_in_thread(config, MockFactory())
    a_id = agent.loaded.bundle.bundle_id
    web = driver = None
    try:
        web = WebProcess(journal, tmp_path)
        driver = chromium(*LAPTOP)
        driver.get(web.url + "/")
        wait_for(lambda: len(rows_so_far(journal)) >= 3, 120, "3 snapshots scored by A")
        lags: dict[str, float] = {}
        state_seen(sub, "A running", time.monotonic(), {}, bundle_id=a_id, phase=None, last_snapshot_seq=3)

        # B: refused by the agent's load; the state goes on naming A
        t = time.monotonic()
        rc, out = cli_out(capsys, *deploy, str(b))
        assert rc == 2 and "refused" in out, out
        assert "model_float32.tflite" in event_seen(sub, "deploy_rejected")["detail"]
        rejected = state_seen(sub, "B rejected", t, lags, phase="rejected", bundle_id=a_id)
        assert rejected["slot"] is None and a_id in rejected["deploy"]["why"]  # "still running A"
        wait_page(driver, lambda dr: "deploy rejected (asked " in facts_line(dr), 60, "the page to show B rejected")
        assert page_text(driver, "bundle") == a_id

        # C: on probation in slot a, beside A; the page says so too
        t = time.monotonic()
        rc, out = cli_out(capsys, *deploy, str(c))
        assert rc == 0 and "on probation" in out, out
        c_id = agent.loaded.bundle.bundle_id
        on_probation = state_seen(sub, "C on probation", t, lags, phase="probation", bundle_id=c_id, slot="a")
        assert on_probation["deploy"]["previous_bundle_id"] == a_id
        progress = on_probation["deploy"]["probation"]
        assert {k: progress[k] for k in ("running_snapshots", "snapshots_needed", "disagreements", "on_alarm")} == {
            "running_snapshots": 0, "snapshots_needed": 3, "disagreements": 0, "on_alarm": "rollback"}
        assert c_id in event_seen(sub, "deploy_probation")["detail"]
        wait_page(driver, lambda dr: "new bundle on probation: 0 of 3 snapshots" in facts_line(dr), 60,
                  "the page to show C on probation")
        assert "bundle slot a" in facts_line(driver) and page_text(driver, "bundle") == c_id

        # ... and rolled back by the agent on the first healthy snapshot: the state names A again, without a slot
        t = time.monotonic()
        replay.release()
        rolled = state_seen(sub, "C rolled back", t, lags, phase="rolled_back", bundle_id=a_id)
        assert rolled["slot"] is None and rolled["deploy"]["deployed_bundle_id"] == c_id
        assert "that the old one judged normal" in rolled["deploy"]["why"]
        assert f"{c_id} rolled back to {a_id}" in event_seen(sub, "deploy_rolled_back")["detail"]
        wait_page(driver, lambda dr: f"deploy of {c_id} rolled back" in facts_line(dr), 60,
                  "the page to show C rolled back")
        assert "slot" not in facts_line(driver) and page_text(driver, "bundle") == a_id
        wait_for(lambda: len(rows_so_far(journal)) >= 5, 120, "snapshots 3 and 4")

        # D: on probation, then committed after 3 running snapshots judged by both bundles
        t = time.monotonic()
        rc, out = cli_out(capsys, *deploy, str(d))
        assert rc == 0 and "on probation" in out, out
        d_id = agent.loaded.bundle.bundle_id
        state_seen(sub, "D on probation", t, lags, phase="probation", bundle_id=d_id, slot="a")
        wait_page(driver, lambda dr: "new bundle on probation: 0 of 3 snapshots" in facts_line(dr), 60,
                  "the page to show D on probation")
        t = time.monotonic()
        replay.release()  # snapshots 5..9
        committed = state_seen(sub, "D committed", t, lags, phase="committed", bundle_id=d_id, slot="a")
        assert "after 3 running snapshots judged by both" in committed["deploy"]["why"]
        assert "probation" not in committed["deploy"]
        assert d_id in event_seen(sub, "deploy_committed")["detail"]
        wait_page(driver, lambda dr: f"deploy of {d_id} committed" in facts_line(dr), 60,
                  "the page to show D committed")
        assert "bundle slot a" in facts_line(driver) and "on probation" not in facts_line(driver)
        assert page_text(driver, "bundle") == d_id
    finally:
        if driver is not None:
            driver.quit()
        if web is not None:
            web.stop()
        agent.stop()
        thread.join(60)
        replay.close()
        publisher.terminate()
        publisher.wait(30)
        sub.close()
    assert publisher.returncode == 0, publisher_log.read_text()

    # the state topic went through every step, in order (a quick "loading" may fall between two polls)
    steps = [(phase(s), s["bundle_id"]) for s in states(sub) if phase(s) != "loading"]
    steps = [s for k, s in enumerate(steps) if k == 0 or s != steps[k - 1]]
    assert steps == [(None, a_id), ("rejected", a_id), ("probation", c_id), ("rolled_back", a_id),
                     ("probation", d_id), ("committed", d_id)], steps
    kinds = [m.json()["kind"] for m in sub.on(EVENT) if m.json()["kind"].startswith("deploy_")]
    assert kinds == ["deploy_rejected", "deploy_probation", "deploy_rolled_back", "deploy_probation",
                     "deploy_committed"], kinds
    print("\non " + STATE + ", seconds from the deploy command (or the stream's release) to the state message: "
          + ", ".join(f"{what} {lag:.1f}" for what, lag in lags.items()))
