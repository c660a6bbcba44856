"""A real Mosquitto broker on loopback, and a recording MQTT subscriber: for the fleet benchmark and the tests.

It lives here, not under ``tests/``, so that ``benchmarks.bench_fleet`` does not
depend on the test suite; the telemetry tests import it from here. A missing
executable raises :class:`BrokerToolMissing` naming its Debian package; the tests
pass ``require=tests.conftest.require_executable`` instead, which skips (or, with
``CI=true``, fails) the test with the same advice.

The broker runs in the foreground (``mosquitto -c CONFIG``) on free loopback
ports: a plain listener and a TLS listener, both with a password file, with
persistence (autosaved every second) so a persistent subscriber session
survives a ``kill -9`` of the broker. The CA and the server certificate are
made here with ``openssl``. Every process is stopped by the fixture that made it.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import paho.mqtt.client as mqtt

from firmware_io.errors import BearingEdgeError

USER, PASSWORD = "edge", "s3cret-pass"

#: ``(executable, Debian package) -> path``: how a helper finds the programs it runs.
Require = Callable[[str, str], str]


class BrokerToolMissing(BearingEdgeError, RuntimeError):
    """mosquitto, mosquitto_passwd or openssl is not installed; the message names the package."""


def find_tool(name: str, package: str) -> str:
    """The path of ``name``, or :class:`BrokerToolMissing` saying which Debian package to install."""
    path = shutil.which(name)
    if path is None:
        raise BrokerToolMissing(f"{name} not found: install the Debian package '{package}' "
                                f"(apt-get install -y {package})")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_ca(folder: Path, name: str, require: Require = find_tool) -> tuple[Path, Path]:
    """A self-signed test CA (EC P-256): (certificate, key)."""
    openssl = require("openssl", "openssl")
    cert, key = folder / f"{name}.crt", folder / f"{name}.key"
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", f"/CN={name}"],
                   check=True, capture_output=True)
    return cert, key


def make_server_cert(folder: Path, ca: tuple[Path, Path], require: Require = find_tool) -> tuple[Path, Path]:
    """A server certificate for 127.0.0.1 and localhost, signed by ``ca``."""
    openssl = require("openssl", "openssl")
    key, csr, cert = folder / "server.key", folder / "server.csr", folder / "server.crt"
    ext = folder / "server.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    subprocess.run([openssl, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", key, "-out", csr, "-subj", "/CN=localhost"], check=True, capture_output=True)
    subprocess.run([openssl, "x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-CAcreateserial",
                    "-out", cert, "-days", "2", "-extfile", ext], check=True, capture_output=True)
    return cert, key


class Mosquitto:
    """One broker process; :meth:`kill` / :meth:`start` keep its ports, config and persistence.

    ``require`` finds the executables (``find_tool``; the tests pass ``require_executable``, which skips).
    """

    def __init__(self, folder: Path, require: Require = find_tool, *, acl: str | None = None,
                 max_packet_size: int | None = None) -> None:
        """``acl``: the text of a Mosquitto ACL file for both listeners (None: every user may do anything);
        ``max_packet_size``: the broker's limit on a packet it accepts (Mosquitto's ``max_packet_size``)."""
        self.exe = require("mosquitto", "mosquitto")
        passwd = require("mosquitto_passwd", "mosquitto")
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.port, self.tls_port = free_port(), free_port()
        self.ca = make_ca(folder, "test-ca", require)
        cert, key = make_server_cert(folder, self.ca, require)
        self.password_file = folder / "passwd"
        subprocess.run([passwd, "-c", "-b", self.password_file, USER, PASSWORD], check=True, capture_output=True)
        self.password_file.chmod(0o600)
        (folder / "data").mkdir(exist_ok=True)
        self.log = folder / "mosquitto.log"
        common = f"allow_anonymous false\npassword_file {self.password_file}\n"
        if acl is not None:
            (folder / "acl").write_text(acl)
            common += f"acl_file {folder / 'acl'}\n"
        self.config = folder / "mosquitto.conf"
        self.config.write_text(
            "per_listener_settings true\n"
            # as root the broker would drop to user mosquitto and could not read these files
            + ("user root\n" if os.geteuid() == 0 else "")
            + f"persistence true\npersistence_location {folder / 'data'}/\nautosave_interval 1\n"
            f"log_dest file {self.log}\nlog_type all\nmax_queued_messages 100000\n"
            + (f"max_packet_size {max_packet_size}\n" if max_packet_size else "")
            + f"listener {self.port} 127.0.0.1\n{common}"
            f"listener {self.tls_port} 127.0.0.1\n{common}"
            f"cafile {self.ca[0]}\ncertfile {cert}\nkeyfile {key}\n")
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 15.0) -> "Mosquitto":
        self.proc = subprocess.Popen([self.exe, "-c", str(self.config)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.proc.stderr.read().decode()}; log: "
                                   f"{self.log.read_text() if self.log.exists() else ''}")
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.5).close()
                socket.create_connection(("127.0.0.1", self.tls_port), 0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not listen on {self.port} within {timeout} s")

    def saves(self) -> int:
        """How many times this broker (all its runs) has written its persistence file, from its log."""
        if not self.log.exists():
            return 0
        return self.log.read_text(errors="replace").count("Saving in-memory database")

    def wait_for_autosave(self, timeout: float = 60.0) -> None:
        """Block until the broker has saved its state as it is now (the next autosave begins after this call).

        ``autosave_interval 1`` does not mean "saved within a second": mosquitto checks it in
        whole seconds between network events, so a save can come two or more seconds later.
        A test that kills the broker (:meth:`kill`) and expects a session to survive must wait
        for a save that started after the session was made; a fixed sleep raced it.
        """
        before = self.saves()
        deadline = time.monotonic() + timeout
        while self.saves() == before:
            if time.monotonic() > deadline:
                raise RuntimeError(f"mosquitto did not autosave within {timeout} s (log: {self.log})")
            time.sleep(0.05)

    def kill(self) -> None:
        """``kill -9``: no goodbye, nothing saved since the last autosave (see :meth:`wait_for_autosave`)."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def pause(self) -> None:
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def mqtt_section(self, node_id: str, **changes) -> dict:
        """An ``[mqtt]`` table for this broker (plain listener), quick to reconnect."""
        (self.folder / "client-password").write_text(PASSWORD + "\n")
        (self.folder / "client-password").chmod(0o600)  # a secret file others may read is warned about
        return {"enabled": True, "host": "127.0.0.1", "port": self.port, "username": USER,
                "password_file": str(self.folder / "client-password"), "node_id": node_id,
                "reconnect_initial_s": 0.2, "reconnect_max_s": 1.0, "poll_s": 0.1, **changes}


@dataclass
class Message:
    topic: str
    payload: bytes
    retain: bool
    at: float = field(default_factory=time.monotonic)

    def json(self):
        return json.loads(self.payload)


class Subscriber:
    """A paho subscriber that records every message; persistent session (clean_session False), QoS 1."""

    def __init__(self, broker: Mosquitto, topics: list[str], client_id: str = "test-subscriber",
                 persistent: bool = True) -> None:
        self.messages: list[Message] = []
        self.lock = threading.Lock()
        self.topics = topics
        self.subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                                  clean_session=not persistent, protocol=mqtt.MQTTv311)
        self.client.username_pw_set(USER, PASSWORD)
        self.client.reconnect_delay_set(1, 1)
        self.client.max_queued_messages_set(0)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.connect("127.0.0.1", broker.port, keepalive=10)
        self.client.loop_start()
        # Until SUBACK the broker may route a message past the subscription: wait for it, not the CONNACK.
        if not self.subscribed.wait(30):
            raise RuntimeError("the test subscriber could not connect and subscribe within 30 s")

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if not reason_code.is_failure:
            client.subscribe([(t, 1) for t in self.topics])

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        if not any(rc.is_failure for rc in reason_codes):
            self.subscribed.set()

    def _on_message(self, client, userdata, msg) -> None:
        with self.lock:
            self.messages.append(Message(msg.topic, bytes(msg.payload), bool(msg.retain)))

    def on(self, topic: str) -> list[Message]:
        with self.lock:
            return [m for m in self.messages if m.topic == topic]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def check_snapshot_stream(messages: list[Message], expected_seqs: set[int]) -> dict:
    """Every expected ``seq`` arrived; first arrivals in order; a repeat only re-sends an earlier seq.

    Returns figures: received, duplicates.
    """
    seqs = [m.json()["seq"] for m in messages]
    assert set(seqs) == expected_seqs, (sorted(expected_seqs - set(seqs)), sorted(set(seqs) - expected_seqs))
    first = []
    seen = set()
    for s in seqs:
        if s not in seen:
            seen.add(s)
            first.append(s)
    assert first == sorted(first), "first arrivals out of order"
    return {"received": len(seqs), "duplicates": len(seqs) - len(seen)}
