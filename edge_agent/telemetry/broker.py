"""The connection to the MQTT broker: a paho client per connection, and failures explained in words.

A new :class:`paho.mqtt.client.Client` is made for every connection attempt,
so nothing survives in paho's in-memory queue between connections: after a
reconnect the publisher resends from the journal's cursor, the one durable
store. Every way a connection fails (refused, unreachable, wrong password,
wrong CA, a broker that accepts TCP but never answers) becomes one log line
that names the broker and the ``[mqtt]`` key to check.
"""
from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge_agent.config import MqttSection
from edge_agent.secret_file import SecretFileError, read_secret
from firmware_io.errors import BearingEdgeError

#: Longest wait for the TCP connection and TLS handshake, then for the broker's CONNACK.
CONNECT_TIMEOUT_S = 5.0
CONNACK_TIMEOUT_S = 10.0
#: The largest packet the broker may send us (MQTT 5's Maximum Packet Size). The publisher receives
#: only ``cmd/ack`` and Home Assistant's ``online``: a few bytes each. Without it, five 50 MB messages
#: on ``cmd/ack`` took the publisher from 30 to 183 MB; a broker drops larger packets for this client.
MAX_PACKET_BYTES = 4096


class BrokerSetupError(BearingEdgeError):
    """An ``[mqtt]`` setting that cannot work at all (missing password or certificate file)."""


@dataclass(frozen=True)
class BrokerSettings:
    host: str
    port: int
    username: str
    password: str | None
    password_file: str
    tls_ca: str
    tls_certfile: str
    tls_keyfile: str
    client_id: str
    keepalive_s: int

    @classmethod
    def from_config(cls, mqtt_section: MqttSection, node_id: str) -> "BrokerSettings":
        """Read the password file and check the certificate files now: these never fix themselves."""
        m = mqtt_section
        password = None
        if m.password_file:
            try:
                password = read_secret(m.password_file, "[mqtt] password_file")
            except SecretFileError as exc:
                raise BrokerSetupError(f"{exc} (its first line must be the broker password)") from None
        for key in ("tls_ca", "tls_certfile", "tls_keyfile"):
            path = getattr(m, key)
            if path and not Path(path).is_file():
                raise BrokerSetupError(f"[mqtt] {key} = {path}: no such file (PEM expected)")
        return cls(m.host, m.port, m.username, password, m.password_file, m.tls_ca, m.tls_certfile,
                   m.tls_keyfile, m.client_id or f"bearing-edge-{node_id}", m.keepalive_s)

    @property
    def where(self) -> str:
        return f"broker {self.host}:{self.port}" + (" (TLS)" if self.tls_ca else "")


def new_client(settings: BrokerSettings, will_topic: str) -> mqtt.Client:
    """A paho 2.x client (MQTT 5, a clean start: see :func:`connect_properties`) with credentials, TLS and the
    ``offline`` last will.

    MQTT 5 because a broker says in each PUBACK and SUBACK whether it took the message or the
    subscription: with 3.1.1 Mosquitto acknowledges a publish its ACL refused as if delivered.
    """
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=settings.client_id, protocol=mqtt.MQTTv5)
    client.connect_timeout = CONNECT_TIMEOUT_S
    if settings.username:
        client.username_pw_set(settings.username, settings.password)
    if settings.tls_ca:
        client.tls_set(ca_certs=settings.tls_ca, certfile=settings.tls_certfile or None,
                       keyfile=settings.tls_keyfile or None)
    client.will_set(will_topic, b"offline", qos=1, retain=True)
    return client


def connect_properties() -> Properties:
    """CONNECT's properties: no session kept after a disconnect (the journal is the outbox), and the largest
    packet this client takes (:data:`MAX_PACKET_BYTES`)."""
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 0
    props.MaximumPacketSize = MAX_PACKET_BYTES
    return props


def explain_delivery_refusal(reason: mqtt.ReasonCode, topic: str, s: BrokerSettings) -> str:
    """A PUBACK with a failure code: the broker did not take the message (an ACL, a quota, a bad topic)."""
    who = f"user {s.username!r}" if s.username else "anonymous clients"
    fix = (f"let {who} write {topic} in the broker's ACL (Mosquitto: 'topic write <topic_prefix>/<node_id>/#' "
           "under that user; docs/telemetry.md), or set [mqtt] node_id / topic_prefix to what the ACL allows")
    if reason.value == 0x87 or "authori" in str(reason).lower():
        return f"{s.where} refused to take a message on {topic}: {reason} ({fix}); rows stay in the journal"
    return f"{s.where} refused to take a message on {topic}: {reason}; rows stay in the journal and are sent again"


def explain_subscribe_refusal(reason: mqtt.ReasonCode, topic: str, s: BrokerSettings) -> str:
    """A SUBACK with a failure code: nothing published on ``topic`` will reach this publisher."""
    who = f"user {s.username!r}" if s.username else "anonymous clients"
    return (f"{s.where} refused the subscription to {topic}: {reason}; messages there will not arrive "
            f"(let {who} read {topic} in the broker's ACL: 'topic read ...' or 'topic readwrite ...')")


def explain_connect_error(exc: BaseException, s: BrokerSettings) -> str:
    """What went wrong opening the connection, and what to check."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (f"{s.where}: its TLS certificate is not trusted: {exc.verify_message} "
                f"(check that [mqtt] tls_ca = {s.tls_ca} is the CA that signed the broker's certificate, "
                f"and that [mqtt] host = {s.host} is a name or address listed in that certificate)")
    if isinstance(exc, ssl.SSLError):
        return (f"{s.where}: TLS handshake failed: {exc.reason or exc} (is port {s.port} the broker's TLS "
                "listener? set [mqtt] port to it, or clear tls_ca for a plain listener)")
    if isinstance(exc, ConnectionRefusedError):
        return (f"{s.where}: connection refused (is the broker running and listening on port {s.port}? "
                "check [mqtt] host and port)")
    if isinstance(exc, socket.gaierror):
        return f"{s.where}: host name not found ({exc.strerror}); check [mqtt] host"
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return (f"{s.where}: no answer within {CONNECT_TIMEOUT_S:g} s (wrong address, a firewall, or the "
                "network is down); check [mqtt] host and port")
    if isinstance(exc, OSError):
        return f"{s.where}: cannot connect: {exc.strerror or exc}; check the network and [mqtt] host and port"
    return f"{s.where}: cannot connect: {exc!r}"


def explain_refusal(reason: mqtt.ReasonCode, s: BrokerSettings) -> str:
    """What a CONNACK refusal means, and what to fix."""
    text = str(reason)
    if reason.value in (134, 135, 4, 5) or "password" in text.lower() or "authori" in text.lower():
        who = f"user {s.username!r}" if s.username else "an anonymous client"
        fix = (f"check [mqtt] username and the password in [mqtt] password_file = {s.password_file}"
               if s.username else "set [mqtt] username and password_file")
        return f"{s.where} refused {who}: {text} ({fix}; on Mosquitto: mosquitto_passwd)"
    if "identifier" in text.lower():
        return f"{s.where} refused client id {s.client_id!r}: {text}; set [mqtt] client_id"
    return f"{s.where} refused the connection: {text}"


def explain_no_connack(s: BrokerSettings) -> str:
    return (f"{s.where}: accepted the TCP connection but sent no CONNACK within {CONNACK_TIMEOUT_S:g} s "
            "(overloaded or stopped broker, or a TLS listener reached without [mqtt] tls_ca)")
