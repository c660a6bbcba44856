"""Where the virtual accelerometer's bytes go: a pseudo-terminal or a serial device/URL.

A :class:`PtyPort` is what a USB-serial adapter looks like to the agent: a
tty device path. ``link`` keeps a stable symlink to the current pty (like
``/dev/serial/by-id/...``), so a simulated unplug/replug can make a new pty
and the agent finds it under the same name. A :class:`SerialPort` writes to
an existing device or a pyserial URL (``socket://host:port``, ``loop://``).
"""
from __future__ import annotations

import errno
import fcntl
import os
import pty
import select
import struct
import termios
import threading
import time
import tty
from pathlib import Path
from typing import Callable


class PtyPort:
    """A pseudo-terminal pair in raw mode; the agent opens :attr:`path`.

    Binary data needs raw mode: a tty in its default cooked mode would turn
    ``\\n`` into ``\\r\\n``, echo bytes back and buffer by lines.
    """

    def __init__(self, link: str | Path | None = None, wait_for_reader: bool = True,
                 on_connect: Callable[[str], None] | None = None) -> None:
        self.link = Path(link) if link else None
        self.wait = wait_for_reader
        self.on_connect = on_connect
        self.path = ""
        self._fd = -1
        self._fresh = False
        self.reconnect()

    def reconnect(self) -> None:
        """Make a new pty (a re-plugged device gets a new node) and repoint the link."""
        self.disconnect()
        master, slave = pty.openpty()
        tty.setraw(slave)
        self.path = os.ttyname(slave)
        # Close our slave end: the master then reports POLLHUP until a reader opens the path.
        os.close(slave)
        os.set_blocking(master, False)
        self._fd = master
        if self.link is not None:
            tmp = self.link.with_name(self.link.name + ".tmp")
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(self.path)
            os.replace(tmp, self.link)  # atomic: a reader never sees the link missing
        self._fresh = True
        if self.on_connect is not None:
            self.on_connect(self.path)

    def disconnect(self) -> None:
        """Close the master and remove the link: as when a cable is pulled.

        The reader's next read fails, and opening the link fails until
        :meth:`reconnect`, like a ``/dev/serial/by-id`` name while unplugged.
        """
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if self.link is not None and self.link.is_symlink():
            self.link.unlink()

    def drain(self, stop: threading.Event, timeout: float = 10.0) -> bool:
        """Wait until the reader has read everything written (or ``timeout``); True if it has.

        Closing the master discards unread bytes, so the end of a replay
        waits here. It asks the kernel how many bytes the slave side holds.
        """
        if self._fd < 0:
            return True
        slave = os.open(self.path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            # The kernel moves written bytes to the reader's queue asynchronously, so
            # "empty" must hold for a while before we believe it.
            deadline = time.monotonic() + timeout
            empty_since = time.monotonic()
            while time.monotonic() < deadline and not stop.is_set():
                waiting = struct.unpack("i", fcntl.ioctl(slave, termios.FIONREAD, b"\0\0\0\0"))[0]
                now = time.monotonic()
                if waiting:
                    empty_since = now
                elif now - empty_since >= 0.3:
                    return True
                stop.wait(0.01)
            return False
        finally:
            os.close(slave)

    def close(self) -> None:
        self.disconnect()

    def reader_attached(self) -> bool:
        """True once something has the device path open."""
        poller = select.poll()
        poller.register(self._fd, select.POLLHUP)
        return not any(ev & select.POLLHUP for _, ev in poller.poll(0))

    def wait_for_reader(self, stop: threading.Event, settle_s: float = 0.2) -> bool:
        """Block until a reader opens the pty (then ``settle_s`` for it to flush its input)."""
        while not stop.is_set():
            if self.reader_attached():
                return not stop.wait(settle_s)
            stop.wait(0.02)
        return False

    def write(self, data: bytes, stop: threading.Event) -> None:
        """Write all of ``data``, waiting while the pty buffer is full (unless ``stop``).

        The first write after (re)connecting waits for a reader if
        ``wait_for_reader``: a reader that opens the port flushes its input
        (pyserial does), which would throw away what was written before.
        """
        if self._fresh and self.wait and not self.wait_for_reader(stop):
            return
        self._fresh = False
        view = memoryview(data)
        while view and not stop.is_set():
            try:
                n = os.write(self._fd, view)
            except BlockingIOError:
                select.select([], [self._fd], [], 0.1)
                continue
            except OSError as exc:
                if exc.errno == errno.EIO:  # no reader right now: the buffer is full
                    stop.wait(0.05)
                    continue
                raise
            view = view[n:]

    def __enter__(self) -> "PtyPort":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SerialPort:
    """An existing serial device or pyserial URL, opened with ``serial.serial_for_url``."""

    def __init__(self, url: str, baudrate: int = 2000000,
                 on_connect: Callable[[str], None] | None = None) -> None:
        import serial  # pyserial: only needed for this transport

        self._serial_for_url = serial.serial_for_url
        self.url = url
        self.path = url
        self.baudrate = baudrate
        self.on_connect = on_connect
        self._port = None
        self.reconnect()

    def reconnect(self) -> None:
        self.disconnect()
        self._port = self._serial_for_url(self.url, baudrate=self.baudrate)
        if self.on_connect is not None:
            self.on_connect(self.url)

    def disconnect(self) -> None:
        if self._port is not None:
            self._port.close()
            self._port = None

    close = disconnect

    def drain(self, stop: threading.Event, timeout: float = 10.0) -> bool:
        """Wait until the output buffer is sent."""
        self._port.flush()
        return True

    def write(self, data: bytes, stop: threading.Event) -> None:
        """Blocking write: a USB CDC device or socket applies its own flow control."""
        if not stop.is_set():
            self._port.write(data)

    def __enter__(self) -> "SerialPort":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
