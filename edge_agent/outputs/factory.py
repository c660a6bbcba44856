"""Which outputs the agent has: the sink factories, in the order the sinks are called.

A factory takes the :class:`SinkContext` (the configuration and the few
things a sink may need from the agent) and returns a sink, or None when its
config section leaves it off. To add a publisher (MQTT, a metrics exporter):

1. write ``edge_agent/outputs/<name>_sink.py`` with a class implementing
   :class:`~edge_agent.outputs.sink.Sink` and a factory ``(context) -> sink | None``;
2. add its ``[<name>]`` section to :mod:`edge_agent.config` (and ``agent.example.toml``);
3. append the factory to :data:`SINK_FACTORIES`.

Nothing in the agent's loop changes: it calls the sinks through
:class:`~edge_agent.outputs.sink.Sinks`, where a failing sink stops no other.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from edge_agent.config import Config
from edge_agent.journal import Journal
from edge_agent.outputs.journal_sink import JournalSink, PersistedState
from edge_agent.outputs.log_sink import LogSink
from edge_agent.outputs.sink import Sink, Sinks


@dataclass(frozen=True)
class SinkContext:
    """What a sink factory may use."""

    config: Config
    journal: Journal  # the agent's open journal
    persisted_state: PersistedState  # () -> (state, counters) to journal with a snapshot row
    acknowledge: Callable[[str], None]  # acknowledge(source): a button or a remote command
    pin_factory: Any = None  # gpiozero pin factory (tests pass a MockFactory); None = from [gpio]


SinkFactory = Callable[[SinkContext], "Sink | None"]


def journal_factory(context: SinkContext) -> Sink:
    return JournalSink(context.journal, context.persisted_state)


def log_factory(context: SinkContext) -> Sink:
    return LogSink()


def gpio_factory(context: SinkContext) -> Sink:
    from edge_agent.outputs.gpio import gpio_sink  # gpiozero: imported when the agent builds its outputs

    return gpio_sink(context.config.gpio, context.pin_factory, on_ack=lambda: context.acknowledge("button"))


#: The agent's outputs, in call order: the journal first, so a failing later sink cannot delay the record.
SINK_FACTORIES: tuple[SinkFactory, ...] = (journal_factory, log_factory, gpio_factory)


def build_sinks(context: SinkContext, factories: tuple[SinkFactory, ...] | list[SinkFactory] = SINK_FACTORIES) -> Sinks:
    """The sinks of ``factories`` (those that return None are left out). A sink that cannot be set up
    raises (:class:`~edge_agent.outputs.sink.SinkError`): the agent refuses to start rather than run blind."""
    built = []
    try:
        for factory in factories:
            sink = factory(context)
            if sink is not None:
                built.append(sink)
    except BaseException:
        Sinks(built).close()  # release what was already set up (pins)
        raise
    return Sinks(built)
