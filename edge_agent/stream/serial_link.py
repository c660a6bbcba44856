"""The serial transport: open, read what is waiting, reopen with back-off when the device vanishes.

Only bytes cross this module, like ``serial.threaded`` separates the port
from the protocol: the decoder never knows whether the bytes came from a USB
CDC device, a pty or a ``socket://`` URL (``serial.serial_for_url`` opens all
three). A USB cable pulled or a board reset makes the port raise; the link
closes it, reports the state change once, and tries again after a wait that
doubles up to a maximum, so a missing device costs neither CPU nor log spam.
"""
from __future__ import annotations

import logging
import time
from typing import Callable

import serial

log = logging.getLogger(__name__)

class SerialLink:
    """A port that reopens itself. ``read()`` returns bytes (possibly ``b""``) and never raises.

    ``on_change(connected, reason)`` is called on every transition between
    connected and disconnected, from the thread calling ``read``.
    """

    def __init__(self, url: str, *, baudrate: int = 921600, read_timeout_s: float = 0.1,
                 reconnect_initial_s: float = 0.5, reconnect_max_s: float = 30.0,
                 on_change: Callable[[bool, str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.url = url
        self.baudrate = baudrate
        self.read_timeout_s = read_timeout_s
        self.reconnect_initial_s = reconnect_initial_s
        self.reconnect_max_s = max(reconnect_max_s, reconnect_initial_s)
        self.on_change = on_change
        self.clock = clock
        self.port: serial.SerialBase | None = None
        self.connects = 0  # successful opens
        self.disconnects = 0  # losses of an open port
        #: perf_counter() when the last chunk's first byte was seen: the start of the alarm latency
        self.chunk_time = 0.0
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
        """Bytes that arrived, waiting at most about ``read_timeout_s``; ``b""`` if none or no device."""
        if self.port is None:
            self._try_open()
            return b""
        port = self.port
        try:
            waiting = port.in_waiting
            if waiting:
                self.chunk_time = time.perf_counter()
                data = port.read(waiting)
            else:
                data = port.read(1)  # blocks until a byte or the timeout: no busy loop
                if data:
                    # The rest of what arrived with it, without waiting: a device writes
                    # whole frames, so this is the frame (a sleep here would add latency).
                    self.chunk_time = time.perf_counter()
                    more = port.in_waiting
                    if more:
                        data += port.read(more)
        except (serial.SerialException, OSError) as exc:
            self._lost(exc)
            return b""
        return data

    def close(self) -> None:
        if self.port is not None:
            try:
                self.port.close()
            except (serial.SerialException, OSError):
                pass
            self.port = None
