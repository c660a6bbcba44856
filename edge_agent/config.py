"""The agent's configuration file (TOML), with a documented default for every option.

A maintenance engineer edits ``/etc/bearing-agent/agent.toml`` once and then
forgets it, so the file is checked strictly at start-up: an unknown key (a
typo such as ``led_pn``) or a bad value stops the agent with a message that
names the file, the section and the key, instead of silently running with a
default the engineer did not choose. ``agent.example.toml`` (shipped in the
package) lists every option with its default; a test keeps the two in step.
"""
from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from firmware_io.errors import BearingEdgeError
from firmware_io.recordings.ims import IMS_SAMPLES_PER_SNAPSHOT


class ConfigError(BearingEdgeError, ValueError):
    """A configuration that cannot be used; the message names the file and key."""


@dataclass(frozen=True)
class AgentSection:
    #: bundle directory or .tar.gz written by ``bearing-convert`` (not used in learning mode)
    bundle: str = "/var/lib/bearing-agent/bundle"
    #: bundle variant to run ("" = the bundle's default)
    variant: str = ""
    #: TFLite runtime: "auto" (ai-edge-litert, else tflite-runtime), "ai-edge-litert" or "tflite-runtime"
    runtime: str = "auto"
    #: on a continuous stream, score one snapshot every this many seconds (600 = the IMS training cadence;
    #: 0 = every snapshot)
    interval_s: float = 600.0
    #: on a burst stream (the device states its burst length: bursts every few seconds, a replayed recording),
    #: score one burst every this many seconds; 0 (default) = every burst: the device already chose the cadence
    burst_interval_s: float = 0.0
    #: learning mode: no bundle, record features of a healthy machine for retraining
    learn: bool = False
    #: public key files (PEM, Ed25519): if any, only bundles signed by one of them are loaded (docs/convert.md)
    trusted_keys: list[str] = field(default_factory=list)
    #: load a signed bundle older (bundle_version) than the one this device ran last: a deliberate downgrade
    allow_downgrade: bool = False


@dataclass(frozen=True)
class SerialSection:
    #: device path, pty or pyserial URL (socket://host:port, rfc2217://...)
    port: str = "/dev/ttyACM0"
    #: line speed of a real UART (ignored by USB CDC devices, ptys and sockets); 4 ch x 20 kHz needs
    #: 1.62 Mbit/s, so PROTOCOL.md asks for at least 2 Mbaud
    baudrate: int = 2000000
    #: longest a read waits for bytes, so the agent wakes to check faults and requests
    read_timeout_s: float = 0.1
    #: first wait before reopening a vanished device; doubled after each failure
    reconnect_initial_s: float = 0.5
    #: longest wait between reopen attempts
    reconnect_max_s: float = 30.0


@dataclass(frozen=True)
class FaultsSection:
    #: sensor fault when no valid sample arrived for this many seconds
    no_data_timeout_s: float = 10.0
    #: window over which the bad-frame rate is measured
    bad_frame_window_s: float = 10.0
    #: sensor fault when more than this fraction of frames in the window is bad
    max_bad_frame_rate: float = 0.05


@dataclass(frozen=True)
class GpioSection:
    #: "auto" (the Pi's own pins on a Pi, gpiozero's mock pins elsewhere), "mock" or "native"
    pin_factory: str = "auto"
    #: BCM pin of the status LED (normal: heartbeat, alarm: steady, fault: fast blink, learning: slow blink)
    led_pin: int = 17
    #: BCM pin of the buzzer (beeps while an alarm is unacknowledged); -1 = none
    buzzer_pin: int = 27
    #: BCM pin of the relay output (energised while an alarm is latched); -1 = none
    relay_pin: int = 22
    #: relay module input is active-high (false for the common active-low relay boards)
    relay_active_high: bool = True
    #: energise the relay while healthy and release it on an alarm, so a dead Pi or agent alarms too (docs/hardware.md)
    relay_fail_safe: bool = False
    #: BCM pin of the acknowledge push button (to ground, internal pull-up); -1 = none
    ack_button_pin: int = 23


@dataclass(frozen=True)
class JournalSection:
    #: SQLite journal (WAL mode); its directory is created if missing
    path: str = "/var/lib/bearing-agent/journal.sqlite"
    #: scored snapshots and events older than this many days are deleted
    retention_days: float = 365.0
    #: at most this many snapshot rows are kept (oldest deleted first)
    max_snapshots: int = 500_000


@dataclass(frozen=True)
class LearningSection:
    #: channel names for learning mode ([] = "ch1".."chN" from the stream's channel count)
    channel_names: list[str] = field(default_factory=list)
    #: snapshot length in learning mode (samples per channel; IMS: 20480)
    samples_per_snapshot: int = IMS_SAMPLES_PER_SNAPSHOT


@dataclass(frozen=True)
class MqttSection:
    #: publish to an MQTT broker with ``bearing-agent publish`` (a process of its own, following the journal)
    enabled: bool = False
    #: broker host name or address
    host: str = "localhost"
    #: broker port (1883 plain, 8883 is the usual TLS port)
    port: int = 1883
    #: user name for the broker ("" = anonymous)
    username: str = ""
    #: file whose first line is the password (keeps the secret out of agent.toml; "" = none)
    password_file: str = ""
    #: CA certificate (PEM) that signed the broker's certificate; set = connect with TLS
    tls_ca: str = ""
    #: client certificate (PEM) for brokers that require one ("" = none)
    tls_certfile: str = ""
    #: the client certificate's private key (PEM)
    tls_keyfile: str = ""
    #: MQTT client id ("" = "bearing-edge-<node_id>")
    client_id: str = ""
    #: this machine's name in the topics ("" = the host name reduced to [a-zA-Z0-9_-])
    node_id: str = ""
    #: first level of every topic: <topic_prefix>/<node_id>/...
    topic_prefix: str = "bearing-edge"
    #: Home Assistant discovery prefix ("" = no discovery messages)
    discovery_prefix: str = "homeassistant"
    #: "device": one config per node (Home Assistant 2024.12+); "entity": one per entity (older HA, openHAB)
    discovery_form: str = "device"
    #: QoS of snapshot, event and state messages (1: the broker acknowledges; the cursor waits for it)
    qos: int = 1
    #: seconds between keep-alive pings; the broker declares the publisher gone after 1.5 x this
    keepalive_s: int = 60
    #: journal rows read per query and at most in flight (unacknowledged) at once
    batch_size: int = 100
    #: at most this many messages per second (a week of backlog must not flood the broker)
    max_rate_per_s: float = 200.0
    #: how often the journal is polled for new rows and for the agent's heartbeat
    poll_s: float = 0.5
    #: first wait before reconnecting to the broker; doubled after each failure
    reconnect_initial_s: float = 1.0
    #: longest wait between reconnect attempts
    reconnect_max_s: float = 60.0
    #: unit of the feature sensors shown by Home Assistant (IMS: g)
    feature_unit: str = "g"


@dataclass(frozen=True)
class MetricsSection:
    #: Prometheus HTTP endpoint port of ``bearing-agent publish`` (0 = off)
    http_port: int = 0
    #: address the endpoint binds (127.0.0.1: this machine only; a reverse proxy or SSH tunnel for more)
    http_addr: str = "127.0.0.1"
    #: file for node_exporter's textfile collector, written atomically ("" = off)
    textfile: str = ""
    #: seconds between textfile writes
    textfile_interval_s: float = 15.0


@dataclass(frozen=True)
class WebSection:
    #: where ``bearing-agent web`` listens (HOST:PORT); any address but loopback needs token_file
    listen: str = "127.0.0.1:8080"
    #: file whose first line is the page's token ("" = none: then only 127.0.0.1 / ::1 may be used)
    token_file: str = ""
    #: host names the page may be opened by besides IP addresses, localhost and this machine's name
    allowed_hosts: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class LevelsSection:
    #: the lowest latched alarm level that energises the relay: "danger" (default) or "alert"
    relay_on: str = "danger"
    #: the lowest latched alarm level that sounds the buzzer until acknowledged: "danger", "alert" or "never"
    buzzer_on: str = "danger"
    #: a re-baseline learns from this many hours of running snapshots (a day's load and temperature cycle) ...
    rebaseline_hours: float = 24.0
    #: ... and from at least this many snapshots
    rebaseline_snapshots: int = 30


@dataclass(frozen=True)
class DeploySection:
    #: after ``bearing-agent deploy``, the new bundle is on probation for at least this many running snapshots,
    #: each judged by the old bundle too (36 = 6 h at the 600 s cadence) ...
    probation_snapshots: int = 36
    #: ... and at least this many hours; then it is committed (a restart loads it)
    probation_hours: float = 6.0
    #: the new bundle alarms on a snapshot the old one judged normal: "rollback" to the old one, or "hold" (keep
    #: the new one and its alarm: a bundle meant to see more; each such snapshot is journaled)
    on_alarm: str = "rollback"


@dataclass(frozen=True)
class VibrationSection:
    #: the ISO 10816-3 machine group whose velocity zone limits apply: "group2" (15-300 kW) or "group1" (larger)
    machine_group: str = "group2"
    #: the machine's foundation for those limits: "rigid" or "flexible"
    foundation: str = "rigid"


@dataclass(frozen=True)
class Config:
    agent: AgentSection = field(default_factory=AgentSection)
    serial: SerialSection = field(default_factory=SerialSection)
    faults: FaultsSection = field(default_factory=FaultsSection)
    gpio: GpioSection = field(default_factory=GpioSection)
    journal: JournalSection = field(default_factory=JournalSection)
    learning: LearningSection = field(default_factory=LearningSection)
    mqtt: MqttSection = field(default_factory=MqttSection)
    metrics: MetricsSection = field(default_factory=MetricsSection)
    web: WebSection = field(default_factory=WebSection)
    levels: LevelsSection = field(default_factory=LevelsSection)
    deploy: DeploySection = field(default_factory=DeploySection)
    vibration: VibrationSection = field(default_factory=VibrationSection)

    def replace(self, section: str, **changes: Any) -> "Config":
        """A copy with some options of one section changed (command-line overrides)."""
        changes = {k: v for k, v in changes.items() if v is not None}
        if not changes:
            return self
        merged = dataclasses.asdict(getattr(self, section)) | changes
        new = _build_section(type(getattr(self, section)), section, merged, "<command line>")
        return dataclasses.replace(self, **{section: new})


def _known_runtime(name: str) -> bool:
    """Looked up when checked, not imported with this module: edge_agent.scoring.runtime imports
    numpy, which ``bearing-agent web`` reads this file without (its memory goal is 30 MiB)."""
    if name == "auto":
        return True
    from edge_agent.scoring.runtime import RUNTIMES

    return name in RUNTIMES


HOUR_S, DAY_S = 3600.0, 86400.0
#: The longest topic level, node id or client id, in UTF-8 bytes (MQTT allows 65,535 for a whole topic).
MAX_TOPIC_PART = 128

# Values that are in range for their type but still wrong: (check, what it must be). Every number has
# an upper bound too: a value that parses (10**12 samples, a window of inf seconds) must not crash
# the agent on its first frame or grow a window for ever.
_CHECKS: dict[tuple[str, str], tuple[Any, str]] = {
    ("agent", "runtime"): (_known_runtime, "one of ['auto', 'ai-edge-litert', 'tflite-runtime']"),
    ("agent", "interval_s"): (lambda v: 0 <= v <= DAY_S, f">= 0 and <= {DAY_S:.0f} (a day)"),
    ("agent", "burst_interval_s"): (lambda v: 0 <= v <= DAY_S, f">= 0 and <= {DAY_S:.0f} (a day)"),
    ("serial", "port"): (lambda v: bool(v.strip()), "a device path or URL, not empty"),
    ("serial", "baudrate"): (lambda v: 0 < v <= 20_000_000, "> 0 and <= 20000000"),
    ("serial", "read_timeout_s"): (lambda v: 0 < v <= 5, "> 0 and <= 5"),
    ("serial", "reconnect_initial_s"): (lambda v: 0 < v <= HOUR_S, f"> 0 and <= {HOUR_S:.0f}"),
    ("serial", "reconnect_max_s"): (lambda v: 0 < v <= HOUR_S, f"> 0 and <= {HOUR_S:.0f}"),
    ("faults", "no_data_timeout_s"): (lambda v: 0 < v <= HOUR_S, f"> 0 and <= {HOUR_S:.0f}"),
    ("faults", "bad_frame_window_s"): (lambda v: 0 < v <= HOUR_S, f"> 0 and <= {HOUR_S:.0f}"),
    ("faults", "max_bad_frame_rate"): (lambda v: 0 <= v <= 1, "between 0 and 1"),
    ("gpio", "pin_factory"): (lambda v: v in ("auto", "mock", "native"), 'one of "auto", "mock", "native"'),
    ("gpio", "led_pin"): (lambda v: 0 <= v <= 27, "a BCM pin 0..27"),
    ("gpio", "buzzer_pin"): (lambda v: -1 <= v <= 27, "a BCM pin 0..27 or -1 (none)"),
    ("gpio", "relay_pin"): (lambda v: -1 <= v <= 27, "a BCM pin 0..27 or -1 (none)"),
    ("gpio", "ack_button_pin"): (lambda v: -1 <= v <= 27, "a BCM pin 0..27 or -1 (none)"),
    ("journal", "path"): (lambda v: bool(v.strip()), "a file path, not empty"),
    ("journal", "retention_days"): (lambda v: 0 < v <= 36_500, "> 0 and <= 36500 (a century)"),
    ("journal", "max_snapshots"): (lambda v: 1 <= v <= 50_000_000, "between 1 and 50000000"),
    ("learning", "channel_names"): (lambda v: len(set(v)) == len(v) and all(v) and all(len(n) <= 64 for n in v),
                                    "unique, non-empty names of at most 64 characters"),
    # 2**20 samples per channel: 51 x an IMS snapshot; a snapshot is held whole in memory.
    ("learning", "samples_per_snapshot"): (lambda v: 1 <= v <= 2**20, "between 1 and 1048576"),
    ("mqtt", "host"): (lambda v: bool(v.strip()), "a host name or address, not empty"),
    ("mqtt", "port"): (lambda v: 1 <= v <= 65535, "a TCP port 1..65535"),
    ("mqtt", "node_id"): (lambda v: len(v) <= MAX_TOPIC_PART and all(c.isascii() and (c.isalnum() or c in "_-")
                                                                     for c in v),
                          f"empty (the host name) or only letters, digits, _ and - (at most {MAX_TOPIC_PART})"),
    ("mqtt", "topic_prefix"): (lambda v: bool(v) and len(v.encode()) <= MAX_TOPIC_PART and not set(v) & set("#+")
                               and not v.startswith("/") and not v.endswith("/"),
                               f"a topic level without #, + or a leading/trailing / (at most {MAX_TOPIC_PART} bytes)"),
    ("mqtt", "discovery_prefix"): (lambda v: len(v.encode()) <= MAX_TOPIC_PART and not set(v) & set("#+/"),
                                   f"one topic level without #, + or / (or empty; at most {MAX_TOPIC_PART} bytes)"),
    ("mqtt", "discovery_form"): (lambda v: v in ("device", "entity"), 'one of "device", "entity"'),
    ("mqtt", "client_id"): (lambda v: len(v.encode()) <= MAX_TOPIC_PART, f"at most {MAX_TOPIC_PART} bytes"),
    ("mqtt", "qos"): (lambda v: v in (0, 1), "0 or 1 (1: nothing lost; 0: may lose while the broker is away)"),
    ("mqtt", "keepalive_s"): (lambda v: 5 <= v <= 3600, "between 5 and 3600"),
    ("mqtt", "batch_size"): (lambda v: 1 <= v <= 10000, "between 1 and 10000"),
    ("mqtt", "max_rate_per_s"): (lambda v: 0 < v <= 100_000, "> 0 and <= 100000"),
    ("mqtt", "poll_s"): (lambda v: 0 < v <= 60, "> 0 and <= 60"),
    ("mqtt", "reconnect_initial_s"): (lambda v: 0 < v <= HOUR_S, f"> 0 and <= {HOUR_S:.0f}"),
    ("mqtt", "reconnect_max_s"): (lambda v: 0 < v <= HOUR_S, f"> 0 and <= {HOUR_S:.0f}"),
    ("metrics", "http_port"): (lambda v: 0 <= v <= 65535, "0 (off) or a TCP port 1..65535"),
    ("metrics", "http_addr"): (lambda v: bool(v.strip()), "an address to bind, not empty"),
    ("metrics", "textfile_interval_s"): (lambda v: 0 < v <= HOUR_S, f"> 0 and <= {HOUR_S:.0f}"),
    ("metrics", "textfile"): (lambda v: not v or v.endswith(".prom"),
                              'empty (off) or a path ending in ".prom" (node_exporter reads only those)'),
    ("levels", "relay_on"): (lambda v: v in ("alert", "danger"), 'one of "alert", "danger"'),
    ("levels", "rebaseline_hours"): (lambda v: 0.1 <= v <= 24 * 90, "between 0.1 and 2160 (90 days)"),
    ("levels", "rebaseline_snapshots"): (lambda v: 10 <= v <= 1_000_000, "between 10 and 1000000"),
    ("levels", "buzzer_on"): (lambda v: v in ("alert", "danger", "never"), 'one of "alert", "danger", "never"'),
    ("deploy", "probation_snapshots"): (lambda v: 1 <= v <= 100_000, "between 1 and 100000"),
    ("deploy", "probation_hours"): (lambda v: 0 <= v <= 24 * 30, "between 0 and 720 (30 days)"),
    ("deploy", "on_alarm"): (lambda v: v in ("rollback", "hold"), 'one of "rollback", "hold"'),
    ("vibration", "machine_group"): (lambda v: v in ("group1", "group2"), 'one of "group1", "group2"'),
    ("vibration", "foundation"): (lambda v: v in ("rigid", "flexible"), 'one of "rigid", "flexible"'),
    ("web", "listen"): (lambda v: v.rpartition(":")[2].isdigit() and bool(v.rpartition(":")[0]),
                        "HOST:PORT, such as 127.0.0.1:8080 or 0.0.0.0:8080"),
}


def _coerce(value: Any, annotation: str, where: str) -> Any:
    """Check a TOML value against the option's type; ints are accepted for floats."""
    expected = {"str": str, "int": int, "float": (int, float), "bool": bool, "list[str]": list}[annotation]
    ok = isinstance(value, expected) and not (annotation in ("int", "float") and isinstance(value, bool))
    if ok and annotation == "list[str]":
        ok = all(isinstance(v, str) for v in value)
    if not ok:
        raise ConfigError(f"{where} must be {'a list of strings' if annotation == 'list[str]' else annotation}, "
                          f"got {value!r}")
    if annotation == "float" and not math.isfinite(value):  # TOML has inf and nan
        raise ConfigError(f"{where} must be a finite number, got {value!r}")
    for text in (value if annotation == "list[str]" else [value] if annotation == "str" else []):
        bad = next((c for c in text if ord(c) < 0x20 or ord(c) == 0x7F), None)
        if bad is not None:  # a NUL in a topic or client id made paho's connection fail with no cause named
            raise ConfigError(f"{where} must not contain control characters, found {bad!r} in {text[:60]!r}")
    return float(value) if annotation == "float" else list(value) if annotation == "list[str]" else value


def _build_section(cls: type, name: str, values: dict[str, Any], source: str) -> Any:
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"{source}: unknown key {', '.join(f'[{name}] {k}' for k in unknown)}; "
                          f"known keys in [{name}]: {', '.join(known)}")
    out = {}
    for key, value in values.items():
        where = f"{source}: [{name}] {key}"
        value = _coerce(value, known[key].type, where)
        check = _CHECKS.get((name, key))
        if check and not check[0](value):
            raise ConfigError(f"{where} must be {check[1]}, got {value!r}")
        out[key] = value
    return cls(**out)


def parse_config(data: dict[str, Any], source: str = "<config>") -> Config:
    """Build a :class:`Config` from parsed TOML, refusing unknown keys and bad values."""
    sections = {f.name: f.default_factory for f in fields(Config)}  # type: ignore[misc]
    unknown = sorted(set(data) - set(sections))
    if unknown:
        raise ConfigError(f"{source}: unknown section {', '.join(f'[{s}]' for s in unknown)}; "
                          f"known sections: {', '.join(f'[{s}]' for s in sections)}")
    built = {}
    for name, factory in sections.items():
        values = data.get(name, {})
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: {name} must be a [{name}] table, got {values!r}")
        built[name] = _build_section(type(factory()), name, values, source)
    g = built["gpio"]
    pins = {k: getattr(g, k) for k in ("led_pin", "buzzer_pin", "relay_pin", "ack_button_pin")
            if getattr(g, k) >= 0}
    shared = sorted({p for p in pins.values() if list(pins.values()).count(p) > 1})
    if shared:
        raise ConfigError(f"{source}: [gpio] " + ", ".join(f"{k} = {v}" for k, v in pins.items() if v in shared)
                          + ": one pin cannot drive two outputs; give each its own BCM pin")
    m = built["mqtt"]
    if (m.tls_certfile or m.tls_keyfile) and not (m.tls_certfile and m.tls_keyfile and m.tls_ca):
        raise ConfigError(f"{source}: [mqtt] tls_certfile and tls_keyfile go together, and need tls_ca "
                          "(a client certificate is only sent over TLS)")
    return Config(**built)


def load_config(path: str | Path | None) -> Config:
    """Read ``path`` (or return the defaults when ``path`` is None)."""
    if path is None:
        return Config()
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such configuration file "
                          "(copy edge_agent/agent.example.toml and edit it)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_config(data, str(path))


def example_config_path() -> Path:
    """The commented example shipped with the package (every option, every default)."""
    return Path(__file__).with_name("agent.example.toml")
