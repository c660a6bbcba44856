"""One table of facts for every reader: a fault stays visible while an alarm is latched (issue 20 #7),
and a latched alarm shows its own diagnosis, not the newest row's (issue 20 #6)."""
from edge_agent.facts import FACTS, node_facts
from edge_agent.telemetry import payloads

HEARTBEAT = {"baseline_change": {"since_commissioning": {"feature": "Bearing 1", "db": 0.8},
                                  "since_active": {"feature": "Bearing 1", "db": 0.2}}, "time": 1.0, "display": "alarm", "alarm_latched": True, "alarm_acknowledged": False,
             "fault": "dropout on Bearing 2: under -20 dB of its commissioning level", "level": "danger",
             "alarm_level": "danger", "alarm_diagnosis": "bearing 1, outer race",
             "alarm_dominant_diagnosis": "bearing 1, outer race"}
LAST = {"id": 9, "time": 2.0, "error": 3.1, "threshold": 0.3, "over_threshold": 1, "alarm": 1, "state": "alarm",
        "machine_state": "sensor_fault", "level": "danger", "top_channel": "Bearing 4", "top_share": 0.31}
NEWEST_DIAGNOSED = {"id": 8, "time": 1.5, "diagnosis": "bearing 4, cage", "top_channel": "Bearing 4", "top_share": 0.32}


def test_a_fault_while_an_alarm_is_latched_is_a_fact_of_its_own():
    f = node_facts(HEARTBEAT, LAST, NEWEST_DIAGNOSED)
    assert set(f) == set(FACTS)
    assert f["alarm_latched"] and f["alarm_level"] == "danger" and f["fault"].startswith("dropout")
    assert f["machine_state"] == "sensor_fault"
    state = payloads.state_message(running=True, heartbeat=HEARTBEAT, last_row=LAST, counters={},
                                   diagnosis=NEWEST_DIAGNOSED)
    assert state["state"] == "alarm" and state["fault"] == f["fault"]  # the HA fault entity reads "fault"


def test_a_latched_alarm_shows_the_diagnosis_of_the_snapshot_that_raised_it():
    assert node_facts(HEARTBEAT, LAST, NEWEST_DIAGNOSED)["diagnosis"] == "bearing 1, outer race"
    state = payloads.state_message(running=True, heartbeat=HEARTBEAT, last_row=LAST, counters={},
                                   diagnosis=NEWEST_DIAGNOSED)
    assert state["diagnosis"]["text"] == "bearing 1, outer race"
    # without a latched alarm: the newest clear diagnosis, as before
    calm = {**HEARTBEAT, "alarm_latched": False, "display": "normal"}
    assert node_facts(calm, LAST, NEWEST_DIAGNOSED)["diagnosis"] == "bearing 4, cage"
    assert node_facts(calm, LAST, NEWEST_DIAGNOSED)["alarm_level"] is None


def test_the_change_over_the_baselines_is_carried_as_information():
    f = node_facts(HEARTBEAT, LAST, NEWEST_DIAGNOSED)
    assert f["baseline_change"]["since_commissioning"] == {"feature": "Bearing 1", "db": 0.8}
    state = payloads.state_message(running=True, heartbeat=HEARTBEAT, last_row=LAST, counters={})
    assert state["baseline_change"]["since_active"]["db"] == 0.2
    assert node_facts({**HEARTBEAT, "baseline_change": "junk"}, LAST)["baseline_change"] is None
