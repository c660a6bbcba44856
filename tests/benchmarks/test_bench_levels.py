"""bench_levels' summary: the issue's targets become goals that a run can miss (bearing-bench then exits 1)."""
from benchmarks.bench_levels import ONSET_T2, summarise


def _recorded(name, seed, first_alert, false=0, lead=75.2):
    return {"recording": name, "seed": seed, "scenario": "as recorded", "first_alert": first_alert,
            "alert_lead_h": lead if first_alert else None, "first_danger": None, "level_rule_lead_h": 55.7,
            "alert_episodes": 1, "false_alerts_before_onset": false, "stopped": 0, "sensor_fault": 0}


def _scenario(name, seed, false):
    return {"recording": name, "seed": seed, "scenario": "step +15 % on channel 1", "snapshots_inside": 85, "novel_inside": 3,
            "false_alerts": false, "level_rule_false": 0, "states_inside": {"running": 10}}


T2 = "IMS test 2, mean |x| + envelope"
P11 = "PRONOSTIA 1_1, mean |x| (held out)"


def test_every_target_met_gives_no_missed_goal_and_a_table_per_recording():
    rows = [_recorded(T2, s, ONSET_T2) for s in range(2)] + [_scenario(T2, s, 0) for s in range(2)]
    rows += [_recorded(P11, 0, "2011-04-07 15:04:00", false=None)]
    result = summarise(rows, ["IMS test 1: absent here"])
    assert all(result.goals.values()) and len(result.goals) == 4
    escaped = T2.replace("|", "\\|")  # mean |x| inside a Markdown table
    assert f"| {escaped} | 2 | {ONSET_T2} |" in result.markdown
    assert "n/a (no labelled onset)" in result.markdown and "skipped: IMS test 1" in result.markdown


def test_a_late_seed_a_false_alert_or_a_silent_bearing_is_a_missed_goal():
    rows = [_recorded(T2, 0, ONSET_T2), _recorded(T2, 1, "2004-02-16 05:22:39"), _scenario(T2, 0, 2),
            _recorded(P11, 0, None, false=None)]
    missed = [goal for goal, met in summarise(rows, []).goals.items() if not met]
    assert any("every seed" in g for g in missed)
    assert any("no-defect scenario" in g for g in missed)
    assert any(g.startswith(P11) for g in missed)
    assert "2 (0)" in summarise(rows, []).markdown  # the kit's false Alerts beside the level rule's
