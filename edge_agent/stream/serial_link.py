"""The serial transport: open, read what is waiting, reopen with back-off when the device vanishes.

Only bytes cross this module, like ``serial.threaded`` separates the port
from the protocol: the decoder never knows whether the bytes came from a USB
CDC device, a pty or a ``socket://`` URL (``serial.serial_for_url`` opens all
three). A USB cable pulled or a board reset makes the port raise; the link
closes it, reports the state change once, and tries again after a wait that
doubles up to a maximum, so a missing device costs neither CPU nor log spam.

Reading costs CPU per wake-up, not per byte, so the link wakes as seldom as
the alarm allows. The caller says how long bytes may wait in the OS buffer
(its ``hold`` callback: the sensor board knows that no snapshot can complete
sooner): the link sleeps that long first, so that one wake takes several
frames, then empties the buffer. With no hold (a snapshot's last frames) it
waits until the port is readable (``select`` on its file descriptor: a tty, a
pty and a ``socket://`` connection all have one), lets the rest of the burst
arrive for ``batch_s`` (a frame comes in USB packets or TCP segments), and
empties the buffer. Emptying takes several ``os.read`` calls (a tty returns at
most 4095 bytes per call) until the descriptor has nothing left. pyserial's own
``in_waiting`` cannot be used for this: on ``socket://`` it returns 0 or 1, so
reading ``in_waiting`` bytes read 1-2 bytes per call (20x slower than a pty, 47 %
of a core). Transports without a descriptor (``loop://``, ``rfc2217://``) are
read through pyserial.
"""
from __future__ import annotations

import io
import logging
import os
import select
import time
from typing import Callable

import serial

log = logging.getLogger(__name__)

#: The most one ``os.read`` asks for (a tty gives at most 4095 bytes, a socket what it holds).
CHUNK_BYTES = 65536
#: The most one ``read()`` returns: 1.6 s of a 4 ch x 20 kHz int16 stream, far more than a hold lets pile up.
MAX_READ_BYTES = 262144
#: How long a read lets the rest of a burst arrive after the first byte: long enough to fold a
#: frame's USB packets or TCP segments into one wake, short against the alarm latency budget
#: (20 ms, last byte to output). Waiting for the next frame (12.8 ms away at 4 ch x 20 kHz) was
#: measured not to lower CPU on a pty, whose frames arrive whole, while it added ~10 ms latency.
BATCH_S = 0.002
#: The longest a read holds bytes back in the OS buffer: 12.8 kB of a 4 ch x 20 kHz stream, within
#: the smallest buffer in the path (a pty: 20 kB; a USB or UART tty's flip buffers and a socket hold
#: far more): one wake per 80 ms instead of one per 12.8 ms frame while no snapshot can complete.
#: 50 ms cost 0.27 % of a core more (1.47 % against 1.20 % on a pty, load 5).
HOLD_MAX_S = 0.08


class SerialLink:
    """A port that reopens itself. ``read()`` returns bytes (possibly ``b""``) and never raises.

    ``on_change(connected, reason)`` is called on every transition between
    connected and disconnected, from the thread calling ``read``. ``hold()`` says, before each
    read, how long bytes may wait in the OS buffer (nothing the caller waits for can arrive
    sooner); the default, 0, reads every burst as it arrives.
    """

    def __init__(self, url: str, *, baudrate: int = 2000000, read_timeout_s: float = 0.1,
                 batch_s: float = BATCH_S, reconnect_initial_s: float = 0.5, reconnect_max_s: float = 30.0,
                 on_change: Callable[[bool, str], None] | None = None,
                 hold: Callable[[], float] = lambda: 0.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.url = url
        self.baudrate = baudrate
        self.read_timeout_s = read_timeout_s
        self.batch_s = batch_s
        self.reconnect_initial_s = reconnect_initial_s
        self.reconnect_max_s = max(reconnect_max_s, reconnect_initial_s)
        self.on_change = on_change
        self.hold = hold
        self.clock = clock
        self.port: serial.SerialBase | None = None
        self._fd: int | None = None  # the open port's descriptor, when it has one
        self.connects = 0  # successful opens
        self.disconnects = 0  # losses of an open port
        #: perf_counter() when the last chunk's first byte was seen, or, if it was waiting already (after
        #: a hold), the earliest it can have arrived (the buffer last seen empty): where the alarm latency starts
        self.chunk_time = 0.0
        self._emptied = 0.0  # perf_counter() when the OS buffer was last seen empty
        self._backoff = reconnect_initial_s
        self._next_attempt = 0.0
        self._last_error: str | None = None

    @property
    def connected(self) -> bool:
        return self.port is not None

    def _open(self) -> None:
        # exclusive: a second agent (or a terminal program) on the same device would
        # steal half the bytes; the lock makes it fail to open instead.
        self.port = serial.serial_for_url(self.url, baudrate=self.baudrate, timeout=self.read_timeout_s,
                                          exclusive=True)
        self._fd = _descriptor(self.port)
        self._emptied = time.perf_counter()
        self.connects += 1
        self._backoff = self.reconnect_initial_s
        self._last_error = None
        log.info("serial port %s open", self.url)
        if self.on_change:
            self.on_change(True, f"{self.url} open")

    def _try_open(self) -> None:
        now = self.clock()
        if now < self._next_attempt:
            time.sleep(min(self.read_timeout_s, self._next_attempt - now))
            return
        try:
            self._open()
        except (serial.SerialException, OSError, ValueError) as exc:
            message = str(exc)
            if message != self._last_error:  # log each new reason once, not every retry
                log.warning("cannot open %s: %s (retrying, up to every %.0f s)",
                            self.url, message, self.reconnect_max_s)
                self._last_error = message
            self._next_attempt = self.clock() + self._backoff
            self._backoff = min(self._backoff * 2, self.reconnect_max_s)

    def _lost(self, exc: BaseException) -> None:
        reason = f"{self.url} lost: {exc}"
        log.warning("serial device disappeared: %s", reason)
        self.close()
        self.disconnects += 1
        self._next_attempt = self.clock() + self._backoff
        self._backoff = min(self._backoff * 2, self.reconnect_max_s)
        if self.on_change:
            self.on_change(False, reason)

    def read(self) -> bytes:
        """Bytes that arrived, waiting at most about ``hold() + read_timeout_s``; ``b""`` if none or no device.

        ``hold()`` is how long the caller can leave bytes in the OS buffer (nothing it waits for
        can arrive sooner): the link sleeps that long before it looks, so one wake takes all
        the frames that came meanwhile. The OS keeps them: a pty 20 kB, a USB or UART tty's
        buffers and a socket far more than a hold of HOLD_MAX_S at 160 kB/s.
        """
        if self.port is None:
            self._try_open()
            return b""
        try:
            hold_s = min(self.hold(), HOLD_MAX_S)
            if self._fd is not None:
                data = self._read_fd(self._fd, hold_s)
            else:
                data = self._read_pyserial(self.port, hold_s)
        except (serial.SerialException, OSError) as exc:
            self._lost(exc)
            return b""
        return data

    def _read_fd(self, fd: int, hold_s: float) -> bytes:
        if hold_s > self.batch_s:
            time.sleep(hold_s)  # frames pile up in the OS buffer: one wake for all of them
        if select.select([fd], [], [], 0)[0]:
            # Bytes were waiting (after a hold, or while the loop was busy): they can have arrived
            # any time since the buffer was last seen empty, so the latency is counted from then.
            self.chunk_time = self._emptied
        else:
            if not select.select([fd], [], [], self.read_timeout_s)[0]:  # no busy loop while idle
                self._emptied = time.perf_counter()
                return b""
            self.chunk_time = time.perf_counter()
            if self.batch_s > 0:
                time.sleep(self.batch_s)
        return self._empty_buffer(fd)

    def _empty_buffer(self, fd: int) -> bytes:
        """Everything the readable descriptor holds (up to MAX_READ_BYTES), in as few reads as it allows."""
        try:
            data = os.read(fd, CHUNK_BYTES)
        except BlockingIOError:  # another reader took it (the port is locked, so: never in practice)
            return b""
        if not data:  # readable but empty: a tty whose device is gone, a socket closed by its peer
            raise serial.SerialException("device reports readiness to read but returned no data "
                                         "(device disconnected?)")
        chunks, total = [data], len(data)
        while total < MAX_READ_BYTES:
            try:
                more = os.read(fd, CHUNK_BYTES)  # the descriptor is non-blocking (pyserial opens it so)
            except BlockingIOError:  # nothing left
                break
            if not more:  # the peer left after sending: the next read reports it
                break
            chunks.append(more)
            total += len(more)
        self._emptied = time.perf_counter()
        return data if len(chunks) == 1 else b"".join(chunks)

    def _read_pyserial(self, port: serial.SerialBase, hold_s: float) -> bytes:
        data = port.read(1)  # blocks until a byte or the timeout: no busy loop
        if data:
            self.chunk_time = time.perf_counter()
            wait = max(self.batch_s, hold_s)
            if wait > 0:
                time.sleep(wait)
            more = port.in_waiting
            if more:
                data += port.read(min(more, MAX_READ_BYTES))
        return data

    def close(self) -> None:
        if self.port is not None:
            try:
                self.port.close()
            except (serial.SerialException, OSError):
                pass
            self.port = None
            self._fd = None


def _descriptor(port: serial.SerialBase) -> int | None:
    """The file descriptor to ``select`` and ``os.read`` on, or None (``loop://``, ``rfc2217://``)."""
    # exactly these two: a subclass (spy://) may do its own work in read()
    if type(port) is serial.Serial or type(port).__module__.endswith("protocol_socket"):
        try:
            return port.fileno()
        except (AttributeError, OSError, io.UnsupportedOperation):
            return None
    return None
