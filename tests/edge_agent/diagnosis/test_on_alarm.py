"""Issue 24 #4 on the device: the physics diagnosis of alarming snapshots, after the outputs, from the bundle.

The bundle is the real envelope bundle of the agent tests (``bearing-train ingest --bearing ims``, ``fit``,
``bearing-convert --physics-baseline`` on the 11 healthy bundled IMS test-2 snapshots). The alarming
snapshot is synthetic: Gaussian noise on the four channels and, on bearing 1, a 3 kHz ring struck at the
outer-race frequency 2.5 % under nominal (slip), as IMS test 2's own failure shows it. (The real failure is
named through the agent in test_physics_after_outputs.py.)
"""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from edge_agent.diagnosis.on_alarm import EVENT, OnAlarm, VibrationClass
from edge_agent.facts import PHYSICS_STATE, SPECTRUM_STATE, VIBRATION_STATE, condition_states, node_facts
from edge_agent.features.bearing import IMS_BEARING, IMS_SHAFT_HZ
from edge_agent.journal import AgentJournal
from edge_agent.scoring.bundle import BundleError, load_bundle
from edge_agent.scoring.scorer import Score
from firmware_io.recordings import ims
from tests.agent_fixtures import envelope_bundle_dir


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return load_bundle(envelope_bundle_dir(tmp_path_factory.mktemp("envelope")))


@pytest.fixture(scope="module")
def healthy_counts():
    """Four channels of Gaussian noise at 0.05 g RMS, as int16 counts of 1 mg: no defect line anywhere."""
    rng = np.random.default_rng(1)
    return np.round(rng.normal(0.0, 0.05, (ims.IMS_SAMPLES_PER_SNAPSHOT, 4)) / ims.IMS_SCALE).astype(np.int16)


def with_outer_race_defect(counts: np.ndarray, amplitude_g: float = 0.6) -> np.ndarray:
    """``counts`` with impacts at 0.975 x BPFO on channel 1, each ringing a 3 kHz resonance for ~1 ms."""
    rate = ims.IMS_SAMPLE_RATE_HZ
    n = counts.shape[0]
    t = np.arange(n) / rate
    bpfo = 0.975 * IMS_BEARING.defect_frequencies(IMS_SHAFT_HZ)["bpfo"]
    ring = np.zeros(n)
    rng = np.random.default_rng(7)
    for start in np.arange(0.0, n / rate, 1.0 / bpfo):
        at = t >= start
        ring[at] += amplitude_g * (0.8 + 0.4 * rng.random()) * np.exp(-(t[at] - start) / 0.001) \
            * np.sin(2 * np.pi * 3000.0 * (t[at] - start))
    out = counts.astype(np.int32)
    out[:, 0] += np.round(ring / ims.IMS_SCALE).astype(np.int32)
    return np.clip(out, -32768, 32767).astype(np.int16)


def score(level: str = "alert", state: str = "running", fault: str | None = None) -> Score:
    """A score as the scorer returns it for a judged snapshot at ``level`` (or one never judged)."""
    return Score(1.0, 0.5, level != "normal", level != "normal", fault=fault, state=state, level=level)


@pytest.fixture
def journal(tmp_path):
    j = AgentJournal.open(tmp_path / "journal.sqlite")
    yield j
    j.close()


def test_an_alarming_outer_race_snapshot_is_named_outer_race_with_its_evidence(bundle, healthy_counts, journal):
    events = []
    on_alarm = OnAlarm(journal, lambda kind, detail: events.append((kind, detail)))
    snapshot = with_outer_race_defect(healthy_counts)
    on_alarm.after_outputs(bundle, snapshot, ims.IMS_SCALE, 1e9, score("alert"))
    physics = journal.get_state(PHYSICS_STATE)
    assert physics["part"] == "outer_race" and physics["channel"] == "Bearing 1" and physics["level"] == "alert"
    assert 0 < physics["confidence"] <= 1
    bpfo = IMS_BEARING.defect_frequencies(IMS_SHAFT_HZ)["bpfo"]
    line = physics["line"]
    assert abs(line["found_hz"] - 0.975 * bpfo) <= 2 * ims.IMS_SAMPLE_RATE_HZ / snapshot.shape[0]
    assert line["db_over_floor"] >= 10 and line["db_over_baseline"] >= 3 and line["harmonics"] >= 2
    assert [k for k, _ in events] == [EVENT] and "at Alert: outer race" in events[0][1]
    # the page's spectrum: the snapshot's and the baseline's, every part's lines marked, the named ones found
    drawn = journal.get_state(SPECTRUM_STATE)
    assert drawn["part"] == "outer_race" and drawn["time"] == physics["time"]
    assert len(drawn["snapshot_db"]) == len(drawn["baseline_db"]) > 500
    assert {m["part"] for m in drawn["marks"]} == {"outer_race", "inner_race", "rolling_element", "cage"}
    assert drawn["found"][0]["hz"] == line["found_hz"]
    # the facts every reader shows: the physics diagnosis beside (not instead of) the autoencoder's
    facts = node_facts({}, None, **condition_states(journal))
    assert facts["physics_diagnosis"]["part"] == "outer_race" and facts["diagnosis"] is None


def test_an_alarming_snapshot_without_a_defect_line_is_diagnosed_as_none(bundle, healthy_counts, journal):
    """The same noise without the impacts: "no clear defect line", said as such."""
    events = []
    on_alarm = OnAlarm(journal, lambda kind, detail: events.append(detail))
    on_alarm.after_outputs(bundle, healthy_counts, ims.IMS_SCALE, 1e9, score("danger"))
    physics = journal.get_state(PHYSICS_STATE)
    assert physics["part"] == "none" and physics["confidence"] == 0 and physics["text"] == "no clear defect line"
    assert events == ["at Danger: none, confidence 0.00: no clear defect line"]


@pytest.mark.parametrize("state,fault", [("stopped", None), ("starting", None),
                                         ("sensor_fault", "flat line on Bearing 2: every sample is 0")])
def test_no_diagnosis_and_no_velocity_for_a_stopped_starting_or_faulty_snapshot(bundle, healthy_counts, journal,
                                                                                state, fault):
    events = []
    on_alarm = OnAlarm(journal, lambda kind, detail: events.append(kind))
    on_alarm.after_outputs(bundle, with_outer_race_defect(healthy_counts), ims.IMS_SCALE, 1e9,
                           score("danger", state, fault))
    assert on_alarm.diagnosed == 0 and events == []
    assert "part" not in journal.get_state(PHYSICS_STATE) and journal.get_state(VIBRATION_STATE) is None


def test_normal_snapshots_get_velocity_only_and_a_lasting_alarm_is_diagnosed_when_it_rises_or_a_minute_on(
        bundle, healthy_counts, journal):
    now = [0.0]  # the agent's clock, set by the test: the budget is in the agent's time, not the snapshots'
    on_alarm = OnAlarm(journal, lambda kind, detail: None, VibrationClass("group1", "flexible"), min_interval_s=60,
                       clock=lambda: now[0])
    snapshot = with_outer_race_defect(healthy_counts)
    on_alarm.after_outputs(bundle, snapshot, ims.IMS_SCALE, 1000.0, score("normal"))
    assert on_alarm.diagnosed == 0
    velocity = journal.get_state(VIBRATION_STATE)
    assert velocity["channels"] == list(bundle.spec.channel_names) and len(velocity["mm_s"]) == 4
    assert velocity["limits_mm_s"] == [3.5, 7.1, 11.0] and "group 1" in velocity["class"] and \
        "flexible" in velocity["class"]
    # velocity by hand: each bin a sine of amplitude a, of velocity a / w, RMS sqrt(sum (a / w)^2 / 2)
    counts = snapshot.astype(float) * ims.IMS_SCALE * 9.80665
    f = np.fft.rfftfreq(len(counts), 1 / ims.IMS_SAMPLE_RATE_HZ)
    a = 2 * np.abs(np.fft.rfft(counts - counts.mean(axis=0), axis=0)) / len(counts)  # amplitude per bin
    band = (f >= 10) & (f <= 1000)
    by_hand = 1000 * np.sqrt(((a[band] / (2 * np.pi * f[band, None])) ** 2).sum(axis=0) / 2)
    assert velocity["mm_s"] == pytest.approx(by_hand, rel=1e-3)
    assert velocity["zones"] == ["A" if v < 3.5 else "B" for v in by_hand]
    for t, level, expected in [(1001.0, "alert", 1), (1002.0, "alert", 1), (1003.0, "danger", 2),
                               (1030.0, "danger", 2), (1064.0, "danger", 3), (1065.0, "normal", 3),
                               (1066.0, "alert", 4)]:
        now[0] = t
        on_alarm.after_outputs(bundle, snapshot, ims.IMS_SCALE, 5e8, score(level))
        assert on_alarm.diagnosed == expected, (t, level)
    on_alarm.request("page")  # on request: the next running snapshot, whatever its level
    on_alarm.after_outputs(bundle, healthy_counts, ims.IMS_SCALE, 1067.0, score("normal"))
    assert on_alarm.diagnosed == 5 and journal.get_state(PHYSICS_STATE)["level"] == "request"


def without_physics(bundle_dir, tmp_path, resign):
    """A copy of the bundle as converted before the baseline was stored: no section, no spectrum file."""
    old = shutil.copytree(bundle_dir, tmp_path / "old")
    (old / "physics_baseline.npy").unlink()
    resign(old, lambda m: m.pop("physics"))
    return old


def test_an_older_bundle_without_a_baseline_spectrum_loads_and_says_it_gets_no_physics_diagnosis(
        bundle, healthy_counts, journal, tmp_path, resign):
    old = load_bundle(without_physics(bundle.path, tmp_path, resign))
    assert old.physics is None and bundle.physics is not None
    events = []
    on_alarm = OnAlarm(journal, lambda kind, detail: events.append((kind, detail)))
    for t in (1.0, 100.0, 200.0):
        on_alarm.after_outputs(old, with_outer_race_defect(healthy_counts), ims.IMS_SCALE, t, score("danger"))
    assert on_alarm.diagnosed == 0
    facts = node_facts({}, None, **condition_states(journal))["physics_diagnosis"]
    assert facts["available"] is False and facts["part"] is None
    assert "carries no commissioning envelope spectrum" in facts["why_not"] and "--physics-baseline" in facts["why_not"]
    assert len(events) == 1 and events[0][0] == EVENT and "no physics diagnosis" in events[0][1]  # said once
    assert journal.get_state(VIBRATION_STATE) is not None  # velocity needs no baseline


def test_a_malformed_physics_section_refuses_the_bundle(bundle, tmp_path, resign):
    bad = shutil.copytree(bundle.path, tmp_path / "bad")
    np.save(bad / "physics_baseline.npy", np.full((10, 4), np.nan, dtype=np.float32))
    resign(bad)
    with pytest.raises(BundleError, match="physics_baseline.npy: the baseline spectrum must be finite"):
        load_bundle(bad)
    resign(bad, lambda m: m["physics"].update(shaft_hz="fast"))
    with pytest.raises(BundleError, match="physics.shaft_hz must be a speed"):
        load_bundle(bad)


def test_the_manifest_section_names_the_baseline_snapshots(bundle):
    section = json.loads((bundle.path / "manifest.json").read_text())["physics"]
    assert section["baseline"]["n_snapshots"] == 11  # the bundled snapshots up to the envelope model's training end
    assert section["baseline"]["first"] == "2004-02-12 10:32:39" and section["baseline"]["last"] == "2004-02-15 12:02:39"
    assert bundle.physics.baseline.power.shape == (20480 // 2 + 1, 4)
