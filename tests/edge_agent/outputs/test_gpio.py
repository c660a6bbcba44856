"""The GPIO outputs on gpiozero's mock pins: LED, relay (active-low too), the acknowledge button."""
from __future__ import annotations

import time

from gpiozero.pins.mock import MockFactory

from edge_agent.outputs.gpio import StatusOutputs


def test_outputs_drive_mock_pins_and_button_acknowledges():
    factory = MockFactory()
    acks = []
    out = StatusOutputs(led_pin=17, buzzer_pin=27, relay_pin=22, relay_active_high=False, ack_button_pin=23,
                        on_ack=lambda: acks.append(1), pin_factory=factory)
    out.show("normal", buzzer=False, relay=False)
    assert factory.pin(22).state is True  # active-low relay board: released = high
    out.show("alarm", buzzer=True, relay=True)
    assert factory.pin(17).state is True and factory.pin(22).state is False and out.relay_on
    factory.pin(23).drive_low()
    deadline = time.monotonic() + 30  # gpiozero calls on_ack from its own thread: wait for it, however loaded
    while not acks and time.monotonic() < deadline:
        time.sleep(0.01)
    assert acks == [1]
    out.close()


def test_a_fail_safe_relay_is_energised_while_healthy_and_released_on_alarm_and_stop():
    factory = MockFactory()
    out = StatusOutputs(led_pin=17, relay_pin=22, relay_fail_safe=True, pin_factory=factory)
    assert factory.pin(22).state is False  # released until the agent shows its first state
    out.show("normal", buzzer=False, relay=False)
    assert factory.pin(22).state is True and not out.relay_on  # healthy: energised
    out.show("alarm", buzzer=True, relay=True)
    assert factory.pin(22).state is False and out.relay_on  # alarm: released, like a dead Pi
    out.show("normal", buzzer=False, relay=False)
    assert factory.pin(22).state is True
    out.close()
    assert factory.pin(22).state is False  # a stopped agent watches nothing: released, alarming
