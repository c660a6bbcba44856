"""Machine and sensor states from the raw samples of a live snapshot."""
import numpy as np

from edge_agent.scoring.machine_state import MachineRules, MachineState

CH = ("Bearing 1", "Bearing 2")
HEALTHY = np.array([0.06, 0.07])  # mean |x| in g


def samples(n=4096, seed=0, amp=60):
    """int16 counts at 0.001 g, about 60 counts of mean |x| (IMS-like)."""
    return (np.random.default_rng(seed).standard_normal((n, 2)) * amp * 1.25).astype(np.int16)


def test_healthy_samples_run():
    m = MachineState(CH, HEALTHY)
    x = samples()
    assert m.classify(0.0, np.abs(x).mean(axis=0) * 0.001, x, 0.001).state == "running"


def test_a_flat_channel_is_a_sensor_fault_naming_it():
    m = MachineState(CH, HEALTHY)
    x = samples()
    x[:, 1] = 17
    v = m.classify(0.0, None, x, 0.001)
    assert v.state == "sensor_fault" and "flat line on Bearing 2" in v.reason


def test_clipping_at_the_full_scale_code_is_a_sensor_fault():
    x = samples()
    x[::50, 0] = 32767  # 2 % of the samples railed
    v = MachineState(CH, HEALTHY).classify(0.0, None, x, 0.001)
    assert v.state == "sensor_fault" and "clipping on Bearing 1" in v.reason
    # a 12-bit front end states its own full scale
    y = samples()
    y[::50, 1] = -2048
    v = MachineState(CH, HEALTHY, MachineRules(full_scale_counts=2047)).classify(0.0, None, y, 0.001)
    assert "clipping on Bearing 2" in v.reason


def test_a_dc_offset_jump_is_a_sensor_fault_until_it_returns():
    m = MachineState(CH, HEALTHY)
    x = samples()
    assert m.classify(0.0, None, x, 0.001).state == "running"
    jumped = x.copy()
    jumped[:, 0] += 200  # +0.2 g of DC: more than the channel's healthy level
    v = m.classify(600.0, None, jumped, 0.001)
    assert v.state == "sensor_fault" and "DC offset on Bearing 1" in v.reason
    assert m.classify(1200.0, None, x, 0.001).state == "running"


def test_rules_out_of_range_are_refused_naming_the_key():
    import pytest
    with pytest.raises(ValueError, match="settle_s"):
        MachineRules(settle_s=-1)
    with pytest.raises(ValueError, match="unknown keys"):
        MachineRules.from_dict({"floor": 1})
