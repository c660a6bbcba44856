"""Tell systemd the agent is alive: ``sd_notify`` READY, WATCHDOG pings and STOPPING, with no dependency.

The unit is ``Type=notify`` with ``WatchdogSec=``: systemd passes the path of
a unix datagram socket in ``$NOTIFY_SOCKET`` and the ping interval in
``$WATCHDOG_USEC``, and restarts the service when the pings stop. The
protocol is one datagram of ``KEY=value`` lines (``man sd_notify``), so the
standard library's :mod:`socket` is all it takes; ``python-systemd`` would be
a compiled dependency for four lines.

The pings come from the agent's loop (its housekeeping step), not from a
thread of their own: a thread would keep pinging while the loop is stuck,
which is exactly what the watchdog is there to catch. The loop also says
whether it is making progress: while scoring has stalled although samples
arrive, the pings stop, so systemd restarts an agent that runs but no longer
decides. Outside systemd (no ``$NOTIFY_SOCKET``) every call does nothing.
"""
from __future__ import annotations

import logging
import os
import socket
import time
from typing import Mapping

log = logging.getLogger("edge_agent")


class Watchdog:
    """The agent's side of the systemd notify protocol.

    ``environ`` is read once, at construction: ``NOTIFY_SOCKET`` (a path, or
    ``@name`` for the abstract namespace), ``WATCHDOG_USEC`` and
    ``WATCHDOG_PID`` (pings only when it names this process, as sd_notify does).
    """

    def __init__(self, environ: Mapping[str, str] = os.environ) -> None:
        address = environ.get("NOTIFY_SOCKET", "")
        self.address_ = "\0" + address[1:] if address.startswith("@") else address
        usec = environ.get("WATCHDOG_USEC", "")
        pid = environ.get("WATCHDOG_PID", "")
        mine = not pid or pid == str(os.getpid())
        #: seconds between pings: half the watchdog timeout, as systemd recommends; None = no watchdog
        self.interval_s_: float | None = (int(usec) / 1e6 / 2) if usec.isdigit() and int(usec) > 0 and mine else None
        self.ready_ = False
        self.stalled_ = False
        self._last_ping = -float("inf")
        self._socket: socket.socket | None = None
        self._failed = False

    @property
    def enabled(self) -> bool:
        """Whether systemd listens (the service runs under ``Type=notify``)."""
        return bool(self.address_)

    def ping(self, *, stalled: bool = False, now: float | None = None) -> None:
        """Called from the loop: READY=1 the first time, then WATCHDOG=1 every ``interval_s_``.

        ``stalled`` (scoring stopped while samples arrive) withholds the ping,
        so that systemd restarts the agent after ``WatchdogSec``.
        """
        if not self.enabled:
            return
        now = time.monotonic() if now is None else now
        if stalled != self.stalled_:
            self.stalled_ = stalled
            if stalled:
                log.error("watchdog: scoring has stalled while samples arrive; no more pings, systemd will "
                          "restart the agent")
                self._send("STATUS=scoring stalled while samples arrive: watchdog pings stopped")
            else:
                self._send("STATUS=scoring")
        if not self.ready_:
            self.ready_ = self._send("READY=1\nSTATUS=scoring")
        if stalled or self.interval_s_ is None or now - self._last_ping < self.interval_s_:
            return
        if self._send("WATCHDOG=1"):
            self._last_ping = now

    def stopping(self) -> None:
        """STOPPING=1: the agent is shutting down (systemd shows "deactivating", no watchdog restart)."""
        if self.enabled:
            self._send("STOPPING=1")
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def _send(self, message: str) -> bool:
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._socket.sendto(message.encode(), self.address_)
        except OSError as exc:
            # systemd gone or the socket not ours: the agent's job (the alarm) goes on; say it once
            if not self._failed:
                log.warning("watchdog: cannot notify systemd at %r: %s", self.address_, exc)
                self._failed = True
            return False
        self._failed = False
        return True
