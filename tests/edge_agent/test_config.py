"""The agent's configuration file: every option documented, bad ones refused with the key named."""
from __future__ import annotations

import dataclasses
import tomllib

import pytest

from edge_agent.config import Config, ConfigError, example_config_path, load_config, parse_config


def test_example_config_lists_every_option_with_its_default():
    data = tomllib.loads(example_config_path().read_text())
    assert parse_config(data, "example") == Config()
    for section in dataclasses.fields(Config):
        documented = set(data[section.name])
        assert documented == {f.name for f in dataclasses.fields(getattr(Config(), section.name))}, section.name


@pytest.mark.parametrize("text, message", [
    ("[gpio]\nled_pn = 5\n", "unknown key [gpio] led_pn"),
    ("[gpoi]\n", "unknown section [gpoi]"),
    ("[gpio]\nled_pin = 40\n", "[gpio] led_pin must be a BCM pin 0..27, got 40"),
    ("[gpio]\nled_pin = \"17\"\n", "[gpio] led_pin must be int, got '17'"),
    ("[agent]\nlearn = 1\n", "[agent] learn must be bool, got 1"),
    ("[agent]\nruntime = \"tensorflow\"\n", "[agent] runtime must be one of"),
    ("[faults]\nmax_bad_frame_rate = 5\n", "[faults] max_bad_frame_rate must be between 0 and 1"),
    ("[learning]\nchannel_names = [\"a\", \"a\"]\n", "[learning] channel_names must be unique"),
    ("agent = 3\n", "agent must be a [agent] table"),
    ("[gpio]\nrelay_pin = 17\n", "[gpio] led_pin = 17, relay_pin = 17: one pin cannot drive two outputs"),
    ("[agent\n", "not valid TOML"),
    ("[levels]\nrelay_on = \"alarm\"\n", '[levels] relay_on must be one of "alert", "danger"'),
    ("[deploy]\non_alarm = \"ignore\"\n", '[deploy] on_alarm must be one of "rollback", "hold"'),
    ("[deploy]\nprobation_snapshots = 0\n", "[deploy] probation_snapshots must be between 1 and 100000, got 0"),
    ("[deploy]\nprobation_hours = -1\n", "[deploy] probation_hours must be between 0 and 720 (30 days), got -1.0"),
    ("[deploy]\nprobation_hours = inf\n", "[deploy] probation_hours must be a finite number, got inf"),
])
def test_bad_config_is_refused_with_the_key_named(tmp_path, text, message):
    path = tmp_path / "agent.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_config_values_and_command_line_overrides(tmp_path):
    path = tmp_path / "agent.toml"
    path.write_text("[agent]\ninterval_s = 60\n[gpio]\nrelay_pin = -1\n")
    config = load_config(path)
    assert config.agent.interval_s == 60.0 and config.gpio.relay_pin == -1 and config.gpio.led_pin == 17
    config = config.replace("agent", interval_s=0, bundle=None)
    assert config.agent.interval_s == 0.0 and config.agent.bundle == Config().agent.bundle
    with pytest.raises(ConfigError, match="<command line>: \\[agent\\] interval_s must be >= 0"):
        config.replace("agent", interval_s=-1)
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_config(tmp_path / "missing.toml")


@pytest.mark.parametrize("text, message", [
    ("[learning]\nsamples_per_snapshot = 1000000000000\n", "[learning] samples_per_snapshot must be between 1 and"),
    ("[agent]\ninterval_s = inf\n", "[agent] interval_s must be a finite number, got inf"),
    ("[faults]\nbad_frame_window_s = inf\n", "[faults] bad_frame_window_s must be a finite number"),
    ("[faults]\nno_data_timeout_s = nan\n", "[faults] no_data_timeout_s must be a finite number"),
    ('[mqtt]\ntopic_prefix = "bearing\\u0000edge"\n', "[mqtt] topic_prefix must not contain control characters"),
    ('[mqtt]\nclient_id = "pump\\u00007"\n', "[mqtt] client_id must not contain control characters"),
    ('[mqtt]\ndiscovery_prefix = "home\\u0000assistant"\n', "[mqtt] discovery_prefix must not contain control"),
    (f'[mqtt]\ntopic_prefix = "{"t" * 70_000}"\n', "[mqtt] topic_prefix must be a topic level without #, + or a leading/trailing / (at most 128 bytes)"),
    (f'[mqtt]\nclient_id = "{"c" * 200}"\n', "[mqtt] client_id must be at most 128 bytes"),
])
def test_values_that_parse_but_would_crash_or_grow_are_refused(tmp_path, text, message):
    """Issue 21 #24: each of these was accepted, then crashed the agent, grew a window for ever, or looped."""
    path = tmp_path / "agent.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert message in str(err.value)


def test_every_number_has_a_finite_upper_bound():
    """Issue 21 #24: any int or float option set absurdly high is refused, naming its key."""
    for section in dataclasses.fields(Config):
        for option in dataclasses.fields(getattr(Config(), section.name)):
            huge = {"int": 10**15, "float": 1e300}.get(option.type)
            if huge is None:
                continue
            with pytest.raises(ConfigError, match=rf"\[{section.name}\] {option.name} must be"):
                parse_config({section.name: {option.name: huge}}, "test")
