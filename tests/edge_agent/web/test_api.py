"""The status page's answers, from a journal with known contents."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from edge_agent.journal import Journal, JournalError, SnapshotRow
from edge_agent.web import api
from tests.edge_agent.web.conftest import STATES, STEP, T0, THRESHOLD, served, write_journal
from tests.edge_agent.web.test_server import call


def runs(states, name="alarm"):
    out, start = [], None
    for k, s in enumerate(states + [None]):
        if s == name and start is None:
            start = k
        if s != name and start is not None:
            out.append((T0 + STEP * start, T0 + STEP * (k - 1)))
            start = None
    return out


def test_status_says_state_bundle_stream_and_the_debounce_in_words(journal_path):
    j = api.open_journal(journal_path)
    try:
        s = api.status(j)
    finally:
        j.close()
    assert s["journal"]["ok"] and s["agent"]["running"]
    assert s["state"]["display"] == "normal"
    assert s["bundle"] == {"id": "b-1", "loaded": s["bundle"]["loaded"], "threshold": THRESHOLD, "debounce": 3,
                           "units": None}
    assert s["debounce_text"].startswith("3 snapshots in a row over the threshold raise the alarm")
    assert s["stream"] == {"device_id": "board-1", "sample_rate_hz": 20000, "channels": ["Bearing 1", "Bearing 2"]}
    assert s["last"]["error"] == pytest.approx(0.1 + 0.001 * 39)
    counters = {c["name"]: c for c in s["counters"]}
    assert counters["bad_checks"]["value"] == 1 and "check failed" in counters["bad_checks"]["help"]
    assert [e["kind"] for e in s["events"]][-1] == "alarm_raised" and s["events"][-1]["help"]


def test_alarm_since_is_the_snapshot_that_raised_it(tmp_path):
    path = tmp_path / "j.sqlite"
    j = write_journal(path)
    j.set_state(heartbeat={**j.get_state("heartbeat"), "display": "alarm"},
                alarm={"condition": True, "latched": True, "acknowledged": False})
    s = api.status(j)
    j.close()
    assert s["state"]["display"] == "alarm" and s["state"]["latched"]
    assert s["state"]["since"] == T0 + STEP * 30  # the second run raised the alarm shown now


def test_the_channel_that_moved_most_is_named(tmp_path):
    path = tmp_path / "j.sqlite"
    j = write_journal(path)
    j.record_snapshot(_row(j, [0.06, 0.35], 6.0))
    c = api.status(j)["channels"]
    j.close()
    assert c["driver"] == "Bearing 2"
    ratios = {ch["name"]: ch["ratio"] for ch in c["channels"]}
    assert ratios["Bearing 2"] == pytest.approx(0.35 / 0.07) and ratios["Bearing 1"] == pytest.approx(1.0)
    assert c["text"].startswith("Driving the error now: Bearing 2 moved most from its healthy level: 5.00 x")


def _row(j, features, error):
    from edge_agent.journal import SnapshotRow

    last = j.snapshots(last=1)[0]
    return SnapshotRow(last["time"] + STEP, last["first_index"] + 20480, last["stream_id"], features, error,
                       THRESHOLD, True, False, "normal", "b-1", 1.0)


def test_timeline_keeps_spikes_alarm_runs_and_places_events(journal_path):
    j = api.open_journal(journal_path)
    try:
        full = api.timeline(j, "all", points=12)
        day = api.timeline(j, "24h")
    finally:
        j.close()
    assert len(full["buckets"]) <= 12 and full["rows"] == len(STATES)
    assert max(b["error_max"] for b in full["buckets"]) == 9.0  # the one-snapshot spike survives downsampling
    assert [(p["start"], p["end"]) for p in full["alarm_periods"]] == runs(STATES)
    raised = [e["at"] for e in full["events"] if e["kind"] == "alarm_raised"]
    assert raised == [T0 + STEP * 10, T0 + STEP * 30]  # on the snapshot journaled just before each
    # 40 snapshots 10 min apart: 24 h back from the newest reaches the first
    assert (day["start"], day["end"], day["rows"]) == (T0, T0 + STEP * 39, 40)
    with pytest.raises(ValueError, match="range must be one of 24h, 7d, all"):
        api.timeline(api.open_journal(journal_path), "1y")


def test_snapshots_are_paged_by_id(journal_path):
    j = api.open_journal(journal_path)
    try:
        first = api.snapshots(j, since=T0 + STEP * 5, after_id=None, limit=10)
        second = api.snapshots(j, since=None, after_id=first["next_after_id"], limit=100)
    finally:
        j.close()
    assert first["more"] and len(first["rows"]) == 10 and first["rows"][0]["time"] == T0 + STEP * 5
    assert not second["more"] and second["rows"][0]["id"] == first["rows"][-1]["id"] + 1
    assert len(first["rows"]) + len(second["rows"]) == 35


def test_readonly_journal_cannot_write_and_never_creates_one(journal_path, tmp_path):
    j = Journal.open_readonly(journal_path)
    with pytest.raises(Exception, match="readonly"):
        j.request("ack", "web")
    j.close()
    missing = tmp_path / "none" / "journal.sqlite"
    with pytest.raises(JournalError, match="no journal here yet"):
        Journal.open_readonly(missing)
    assert not missing.parent.exists()
    answer = api.no_journal(missing, "no journal here yet")
    assert not answer["journal"]["ok"] and "start the agent" in answer["journal"]["hint"]


def test_the_page_process_imports_no_numpy():
    code = ("import sys, edge_agent.cli.web, edge_agent.web.api; from edge_agent.config import load_config, "
            "example_config_path; load_config(example_config_path()); "
            "print(sorted(m for m in ('numpy', 'tensorflow', 'pandas', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_config_runtime_message_lists_the_runtimes_it_checks():
    """config.py names the runtimes in its message without importing them (numpy); the two stay in step."""
    from edge_agent.config import _CHECKS
    from edge_agent.scoring.runtime import RUNTIMES

    assert _CHECKS[("agent", "runtime")][1] == f"one of {['auto', *RUNTIMES]}"


def _append(path, times, error=0.1):
    j = Journal(path)
    sid = j.stream_id("board-1", "1.0", 20000, 2, 0.001, ["Bearing 1", "Bearing 2"])
    for t in times:
        j.record_snapshot(SnapshotRow(t, 0, sid, [0.06, 0.07], error, THRESHOLD, error > THRESHOLD, False, "normal",
                                      "b-1", 1.0))
    j.close()


@pytest.mark.parametrize("stray", [T0 + 400 * 86400.0, T0 + 15 * 365 * 86400.0])
def test_a_row_from_a_clock_ahead_hides_no_later_row(journal_path, stray):
    """Issue 21 #16: one row with a future time (a clock ahead, or live rows before a 2004 replay's)."""
    _append(journal_path, [stray])
    _append(journal_path, [T0 + STEP * k for k in range(40, 45)])  # journaled after it, with the right clock
    j = api.open_journal(journal_path)
    try:
        day, week, everything = (api.timeline(j, r) for r in ("24h", "7d", "all"))
    finally:
        j.close()
    assert day["end"] == week["end"] == T0 + STEP * 44  # the row journaled last
    assert day["rows"] == week["rows"] == 45  # every row of the right clock, not the stray one alone
    assert everything["end"] == stray and everything["rows"] == 46  # "all" still shows it


def test_status_and_snapshots_answer_with_a_non_finite_error(journal_path):
    """Issue 21 #17: an infinite error in the journal is null in the answer (the page got 400 before)."""
    _append(journal_path, [T0 + STEP * 40], error=float("inf"))
    with served(journal_path) as url:
        status, _, body = call(url + "/api/status")
        assert status == 200
        answer = json.loads(body)
        assert answer["last"]["error"] is None and answer["last"]["ratio"] is None
        status, _, body = call(url + "/api/snapshots?after_id=40")
        assert status == 200 and json.loads(body)["rows"][0]["error"] is None


def test_out_of_range_parameters_are_refused_with_their_name(journal_path):
    """Issue 21 #18: after_id=2**63 dropped the connection with a traceback (OverflowError)."""
    with served(journal_path) as url:
        for query, name in ((f"after_id={2**63}", "after_id"), ("after_id=-1", "after_id"), ("limit=1e9", "limit"),
                            ("since=inf", "since"), ("since=nan", "since"), (f"limit={'9' * 5000}", "limit")):
            status, _, body = call(url + "/api/snapshots?" + query)
            assert status == 400 and json.loads(body)["error"].startswith(f"{name} must be"), (query, body)
        assert call(url + f"/api/snapshots?after_id={2**63 - 1}")[0] == 200
        assert call(url + f"/api/timeline?points={2**70}")[0] == 400


def test_the_spectrum_answer_is_the_newest_diagnosis_or_says_why_there_is_none(journal_path):
    """Issue 24 #5: ``/api/spectrum`` over the real server: nothing before a diagnosis (and why), then the one
    the agent journaled with it, never another diagnosis's."""
    with served(journal_path) as url:
        status, _, body = call(url + "/api/spectrum")
        assert status == 200 and json.loads(body) == {"spectrum": None,
                                                      "why": "the agent has not diagnosed a snapshot yet"}
        j = Journal(journal_path, create=False)
        try:
            j.set_state(physics={"bundle_id": "b-1", "available": False, "why_not": "no physics diagnosis: old"})
            assert json.loads(call(url + "/api/spectrum")[2])["why"] == "no physics diagnosis: old"
            drawn = {"time": 5.0, "channel": "Bearing 1", "part": "outer_race", "start_hz": 1.0, "step_hz": 1.0,
                     "snapshot_db": [-100.0, None, -90.5], "baseline_db": [-101.0, -99.0, -98.0], "marks": [],
                     "found": [], "text": "outer race"}
            j.set_state(physics={"bundle_id": "b-1", "available": True, "time": 5.0, "part": "outer_race"},
                        physics_spectrum=drawn)
            assert json.loads(call(url + "/api/spectrum")[2]) == {"spectrum": drawn, "why": None}
            j.set_state(physics={"bundle_id": "b-1", "available": True, "time": 6.0, "part": "none"})
            assert json.loads(call(url + "/api/spectrum")[2])["spectrum"] is None  # a newer diagnosis's is not this
        finally:
            j.close()
