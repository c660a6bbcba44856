"""The physical outputs: status LED, buzzer, relay and the acknowledge button (gpiozero).

Off a Raspberry Pi (a desktop, CI) the agent uses gpiozero's mock pins, says
so once in the log, and otherwise runs exactly the same code; tests pass
their own ``MockFactory`` through ``pin_factory`` and read the pins.

LED patterns (one LED, so they differ in rhythm): normal = a short blink
every 2 s (alive), alarm at Danger = steady on, alarm at Alert = even blink
twice a second, sensor fault = fast blink, learning = slow even blink.

:class:`StatusOutputs` is a sink (:mod:`edge_agent.outputs.sink`): it shows
each new state and ignores snapshot rows and events; :func:`gpio_sink` builds
it from the ``[gpio]`` section.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from gpiozero import LED, Buzzer, DigitalInputDevice, OutputDevice

from edge_agent.alarms.alarm_state import ALARM, FAULT, LEARNING, NORMAL

ALERT = "alert"  # an alarm latched at the Alert level: the LED's own rhythm
from edge_agent.config import GpioSection
from edge_agent.journal import SnapshotRow
from edge_agent.outputs.sink import Event, Shown, SinkError

log = logging.getLogger(__name__)

#: (on seconds, off seconds) per state; None = steady on.
LED_PATTERNS: dict[str, tuple[float, float] | None] = {
    NORMAL: (0.1, 1.9),
    ALARM: None,
    FAULT: (0.1, 0.1),
    LEARNING: (1.0, 1.0),
    ALERT: (0.25, 0.25),
}
BUZZER_BEEP = (0.5, 0.5)


def on_raspberry_pi() -> bool:
    """True on a Raspberry Pi (its device tree names the model)."""
    try:
        return "raspberry pi" in Path("/proc/device-tree/model").read_text(errors="ignore").lower()
    except OSError:
        return False


def make_pin_factory(kind: str):
    """The gpiozero pin factory for ``kind`` ("auto", "mock", "native"); None = gpiozero's default."""
    if kind == "native" or (kind == "auto" and on_raspberry_pi()):
        return None
    from gpiozero.pins.mock import MockFactory

    log.warning("not on a Raspberry Pi (or gpio.pin_factory = \"mock\"): using gpiozero's mock pins; "
                "the LED, buzzer and relay are simulated")
    return MockFactory()


class StatusOutputs:
    """Drives the LED, buzzer and relay from the alarm state; calls ``on_ack`` on a button press.

    ``show`` is cheap when nothing changed, so the agent calls it after every
    event without restarting the LED's blink rhythm.
    """

    def __init__(self, *, led_pin: int, buzzer_pin: int = -1, relay_pin: int = -1,
                 relay_active_high: bool = True, ack_button_pin: int = -1,
                 on_ack: Callable[[], None] | None = None, pin_factory=None, relay_fail_safe: bool = False) -> None:
        self.pin_factory = pin_factory
        #: fail-safe: the relay is energised while all is well and released on an alarm, so a dead Pi, SD card,
        #: power supply or agent (any of which releases it) alarms too; it starts released until the first show
        self.relay_fail_safe = relay_fail_safe
        self.led = LED(led_pin, pin_factory=pin_factory)
        self.buzzer = Buzzer(buzzer_pin, pin_factory=pin_factory) if buzzer_pin >= 0 else None
        self.relay = (OutputDevice(relay_pin, active_high=relay_active_high, initial_value=False,
                                   pin_factory=pin_factory) if relay_pin >= 0 else None)
        self.button = None
        if ack_button_pin >= 0:
            # gpiozero's Button is this plus press-and-hold support, whose thread wakes ten times a
            # second for as long as the agent runs: a press is all the agent needs.
            self.button = DigitalInputDevice(ack_button_pin, pull_up=True, bounce_time=0.05, pin_factory=pin_factory)
            if on_ack is not None:
                self.button.when_activated = lambda: on_ack()
        self.pattern: str | None = None
        self._buzzing: bool | None = None
        self._relay_on: bool | None = None

    def show(self, display: str, buzzer: bool, relay: bool) -> None:
        if display != self.pattern:
            pattern = LED_PATTERNS[display]
            if pattern is None:
                self.led.on()
            else:
                self.led.blink(on_time=pattern[0], off_time=pattern[1])
            self.pattern = display
        if self.relay is not None and relay != self._relay_on:
            self.relay.value = (not relay) if self.relay_fail_safe else relay
            self._relay_on = relay
        if self.buzzer is not None and buzzer != self._buzzing:
            if buzzer:
                self.buzzer.beep(*BUZZER_BEEP)
            else:
                self.buzzer.off()
            self._buzzing = buzzer

    # -- the sink interface ---------------------------------------------------------------
    def on_state(self, state: Shown) -> None:
        self.show(ALERT if state.display == ALARM and state.level == ALERT else state.display,
                  state.buzzer, state.relay)

    def on_snapshot(self, row: SnapshotRow) -> None:
        """Nothing: the pins show the state, which ``on_state`` receives."""

    def on_event(self, event: Event) -> None:
        """Nothing: the pins show the state, which ``on_state`` receives."""

    @property
    def relay_on(self) -> bool:
        """The relay's alarm as the pin reads back (not as requested): energised, or released when fail-safe."""
        if self.relay is None:
            return False
        return not bool(self.relay.value) if self.relay_fail_safe else bool(self.relay.value)

    def close(self) -> None:
        """Switch everything off and release the pins (clean stop; a latched alarm is
        journaled and shown again at the next start)."""
        for device in (self.led, self.buzzer, self.relay):
            if device is not None:
                device.off()
        for device in (self.led, self.buzzer, self.relay, self.button):
            if device is not None:
                device.close()


def gpio_sink(gpio: GpioSection, pin_factory=None, on_ack: Callable[[], None] | None = None) -> StatusOutputs:
    """The ``[gpio]`` outputs; ``pin_factory`` None = from ``[gpio] pin_factory``. Raises SinkError with what to check."""
    try:
        factory = pin_factory if pin_factory is not None else make_pin_factory(gpio.pin_factory)
        return StatusOutputs(led_pin=gpio.led_pin, buzzer_pin=gpio.buzzer_pin, relay_pin=gpio.relay_pin,
                             relay_active_high=gpio.relay_active_high, ack_button_pin=gpio.ack_button_pin,
                             on_ack=on_ack, pin_factory=factory, relay_fail_safe=gpio.relay_fail_safe)
    except Exception as exc:  # gpiozero: pin in use, no permission, no pin library
        raise SinkError(f"cannot set up the GPIO pins (LED {gpio.led_pin}, buzzer {gpio.buzzer_pin}, relay "
                        f"{gpio.relay_pin}, button {gpio.ack_button_pin}): {type(exc).__name__}: {exc}; check the "
                        "[gpio] pins are distinct and free, the user is in the 'gpio' group, and python3-lgpio "
                        "is installed (or set [gpio] pin_factory = \"mock\")") from exc
