"""Alert and Danger: novel AND significant over the frozen baseline, with enter and leave delays."""
import numpy as np
import pytest

from edge_agent.features.spec import FeatureSpec
from edge_agent.scoring.baseline import Baseline, BaselineError, change_db, kinds_of, overall_level_slice
from edge_agent.scoring.judge import Judge, judge_series
from edge_agent.scoring.levels import ALERT, DANGER, NORMAL, AlarmLevels, Decision, LevelRules
from edge_agent.scoring.machine_state import MachineRules

CH = ("Bearing 1", "Bearing 2")


def spec(features=("mean_abs",)) -> FeatureSpec:
    return FeatureSpec(channel_names=CH, features=features)


def healthy(n=300, seed=0, level=(0.06, 0.07)):
    """Healthy mean |x| with a few tenths of a dB of scatter, as the IMS channels have."""
    rng = np.random.default_rng(seed)
    return np.asarray(level) * (1 + 0.02 * rng.standard_normal((n, len(level))))


def test_baseline_measures_changes_in_db_from_the_healthy_median():
    X = healthy()
    b = Baseline.fit(spec(), X)
    np.testing.assert_allclose(b.median, np.median(X, axis=0))
    assert b.kinds == ("level", "level")
    # a 15 % step is +1.2 dB, a doubling +6 dB, silence -inf
    np.testing.assert_allclose(b.change_db(b.median * [1.15, 2.0]), [20 * np.log10(1.15), 20 * np.log10(2)])
    assert change_db(np.array([0.0]), np.array([1.0]))[0] == -np.inf
    assert 0 < b.spread_db.max() < 1  # a few tenths of a dB: the healthy scatter


def test_ratio_features_are_ratios_and_the_overall_level_is_found():
    from edge_agent.features.bearing import IMS_BEARING, IMS_SHAFT_HZ
    from edge_agent.features.condition import ConditionSettings
    s = FeatureSpec(channel_names=CH, features=("mean_abs", "env_bpfo_ptm"),
                    extra={"condition": ConditionSettings(bearing=IMS_BEARING, shaft_hz=IMS_SHAFT_HZ).to_dict()})
    assert kinds_of(s) == ("level", "level", "ratio", "ratio")
    assert overall_level_slice(s) == slice(0, 2)
    assert overall_level_slice(spec(("kurtosis",))) is None


def test_a_baseline_with_a_dead_channel_is_refused_by_name():
    X = healthy()
    X[:, 1] = 0
    with pytest.raises(BaselineError, match="Bearing 2"):
        Baseline.fit(spec(), X)


def test_a_baseline_round_trips_and_must_name_the_specs_features():
    b = Baseline.fit(spec(), healthy())
    again = Baseline.from_dict(b.to_dict(), spec())
    np.testing.assert_array_equal(again.median, b.median)
    with pytest.raises(BaselineError, match="not the feature spec's"):
        Baseline.from_dict(b.to_dict(), spec(("rms",)))


def test_limits_never_go_below_a_features_own_healthy_scatter():
    X = healthy()
    X[:, 1] *= np.where(np.arange(len(X)) % 7 == 0, 1.8, 1.0)  # a noisy channel: +5 dB now and then
    b = Baseline.fit(spec(), X)
    alert, danger = LevelRules().limits(b)
    assert alert[0] == 2.0  # the level default
    assert alert[1] == pytest.approx(b.spread_db[1] + 1.25)  # its own scatter + the margin (a 15 % step: 1.21 dB)
    assert (danger >= alert).all()


def test_levels_enter_and_leave_after_their_delays():
    levels = AlarmLevels(LevelRules(enter=3, danger_enter=3, leave=3))
    seq = [ALERT, ALERT, ALERT, DANGER, DANGER, DANGER, NORMAL, NORMAL, NORMAL, NORMAL]
    got = [levels.update(t) for t in seq]
    assert got == [NORMAL, NORMAL, ALERT, ALERT, ALERT, DANGER, DANGER, DANGER, NORMAL, NORMAL]
    levels = AlarmLevels(LevelRules(enter=3, danger_enter=3, leave=3))
    assert levels.update(ALERT, immediate=True) == ALERT  # the two-level rule: at once
    assert [levels.update(NORMAL) for _ in range(3)] == [ALERT, ALERT, NORMAL]


def test_bad_rules_are_refused_with_the_key():
    with pytest.raises(ValueError, match="enter"):
        LevelRules(enter=0)
    with pytest.raises(ValueError, match="alert_db_level"):
        LevelRules(alert_db_level=float("inf"))
    with pytest.raises(ValueError, match="unknown keys"):
        LevelRules.from_dict({"alert": 3})


def decision_for(X, s=None):
    s = s or spec()
    return Decision(Baseline.fit(s, X), LevelRules(), MachineRules())


def times(n, start=0, step=600):
    return (np.datetime64("2026-01-01T00:00:00") + np.arange(n) * np.timedelta64(step, "s")).astype("datetime64[s]")


@pytest.mark.parametrize("step", [1.05, 1.10, 1.15])
def test_a_level_step_of_up_to_15_percent_never_raises_alert_even_when_novel(step):
    """The model calls every snapshot after the step novel (as MinMax scaling on a quiet period makes it);
    the step is not significant, so the level stays normal."""
    X = healthy(600)
    d = decision_for(X[:300])
    X[300:, 0] *= step
    state, level = judge_series(spec(), d, 3, times(600), X, over=np.r_[np.zeros(300, bool), np.ones(300, bool)])
    assert (level == NORMAL).all()
    assert (state == "running").all()


def test_a_real_increase_that_is_novel_raises_alert_then_danger():
    X = healthy(400)
    d = decision_for(X[:300])
    X[300:350, 0] *= 1.5   # +3.5 dB: alert
    X[350:, 0] *= 3.0      # +9.5 dB over the baseline: danger
    over = np.r_[np.zeros(300, bool), np.ones(100, bool)]
    _, level = judge_series(spec(), d, 3, times(400), X, over)
    assert (level[:302] == NORMAL).all() and level[302] == ALERT
    assert level[351] == ALERT and level[352] == DANGER
    # significant but not novel (the model reconstructs it): no alarm
    _, level = judge_series(spec(), d, 3, times(400), X, np.zeros(400, bool))
    assert (level == NORMAL).all()


def test_a_weekend_stop_then_a_start_up_raises_no_alarm():
    """Synthetic: 60 h at 1 % of the healthy level (a stopped machine), then a start-up that runs
    hot (+4 dB) for 20 minutes, all of it called novel by the model."""
    n = 300 + 360 + 10
    X = healthy(n)
    d = decision_for(X[:300])
    X[300:660] *= 0.01
    X[660:662] *= 1.6
    state, level = judge_series(spec(), d, 3, times(n), X, over=np.r_[np.zeros(300, bool), np.ones(370, bool)])
    assert (state[300:660] == "stopped").all()
    assert (state[660:663] == "starting").all()  # within the 30-minute settle time (10-minute cadence)
    assert (level == NORMAL).all()


def test_a_channel_that_drops_out_is_a_sensor_fault_not_a_stop():
    X = healthy(320)
    d = decision_for(X[:300])
    X[300:, 1] *= 0.02
    state, level = judge_series(spec(), d, 3, times(320), X, over=np.ones(320, bool))
    assert (state[300:] == "sensor_fault").all()
    assert (level == NORMAL).all()


def test_a_bundle_without_a_baseline_keeps_the_old_rule_as_danger():
    judge = Judge(spec(), None, 3)
    x = healthy(1)[0]
    got = [judge.decide(x, True, False)[0] for _ in range(3)]
    assert got == [NORMAL, NORMAL, DANGER]
    assert judge.decide(x, False, True)[0] == DANGER


def test_the_judge_resumes_its_level_and_last_stop():
    X = healthy(300)
    d = decision_for(X)
    judge = Judge(spec(), d, 3)
    judge.classify(X[0] * 0.01, 1000.0)
    for _ in range(3):
        judge.decide(X[0] * 1.5, True, False)
    again = Judge(spec(), d, 3)
    again.restore(judge.state())
    assert again.level == judge.level == ALERT
    assert again.classify(X[0], 1600.0).state == "starting"
