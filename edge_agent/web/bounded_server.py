"""A small HTTP/1.0 server whose every resource has a bound: what the status page runs on.

Why not :class:`http.server.ThreadingHTTPServer` as it is: it gives every
connection a thread of its own and reads up to 100 header lines of 64 KiB each,
with no time limit. 500 connections that never finish their request were 498
threads; 40 connections sending 6 MB of headers each took the page to 1.36 GB
before any authentication (issue 21, items 13-15). Here:

* one thread (the loop) accepts connections and reads request heads without
  blocking: at most :attr:`Limits.head_bytes` per head (431 beyond), all of it
  within :attr:`Limits.head_timeout_s` of the connection (a slowloris cannot
  extend its stay by trickling a byte at a time);
* a complete head is answered by one of a fixed pool of :attr:`Limits.workers`
  threads, through the usual :class:`~http.server.BaseHTTPRequestHandler`
  (a subclass of :class:`BoundedRequestHandler`); a client that does not read
  its answer holds a worker for :attr:`Limits.write_timeout_s` at most;
* at most :attr:`Limits.connections` connections are open: one more evicts the
  oldest still sending its head, so held connections cannot lock the
  technician out; the queue to the workers is bounded too (503 beyond).

The standard library only: a framework or a server package would add weight
and a dependency to the Pi for limits that take a page of code.
"""
from __future__ import annotations

import io
import logging
import queue
import selectors
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

log = logging.getLogger("edge_agent.web")


@dataclass(frozen=True)
class Limits:
    """The bounds of one server (the defaults are the status page's)."""

    #: bytes of one request head (request line and headers); a browser sends under 2 KiB
    head_bytes: int = 16 * 1024
    #: seconds from accepting a connection to its complete head
    head_timeout_s: float = 10.0
    #: seconds a worker waits for a client to take its answer
    write_timeout_s: float = 10.0
    #: open connections: heads being read, queued and being answered
    connections: int = 256
    #: threads that answer requests (each keeps its own malloc arena: ~0.9 MiB apiece on the page's
    #: 30 MiB budget, measured with benchmarks/bench_web.py; two keep it, four did not)
    workers: int = 2
    #: complete heads waiting for a worker
    queue: int = 16


class BoundedRequestHandler(BaseHTTPRequestHandler):
    """A request handler that reads the head the loop already received, and writes to the socket.

    Only HTTP/1.0 (one request per connection). ``rfile`` holds the head and whatever arrived with
    it; a handler that wants a body reads the rest from ``self.connection`` (bounded by its timeout).
    """

    protocol_version = "HTTP/1.0"

    def __init__(self, request: socket.socket, client_address: Any, server: "BoundedHTTPServer",
                 head: bytes, admission: "Admission") -> None:
        self._head = head
        #: release it as soon as the expensive part is done, before the answer is written (a client reads
        #: its answer and may ask again before this worker has closed the connection)
        self.admission = admission
        super().__init__(request, client_address, server)

    def setup(self) -> None:
        self.connection = self.request
        self.connection.settimeout(self.server.limits.write_timeout_s)
        self.rfile = io.BytesIO(self._head)
        self.wfile = self.connection.makefile("wb")


class Admission:
    """A request :meth:`BoundedHTTPServer.admit` let in: :meth:`release` tells the server once that it is done."""

    def __init__(self, server: "BoundedHTTPServer", head: bytes) -> None:
        self._server, self._head, self._lock, self._released = server, head, threading.Lock(), False

    def release(self) -> None:
        with self._lock:
            if self._released:
                return
            self._released = True
        self._server.finished(self._head)


@dataclass
class _Pending:
    """A connection whose head is still arriving."""

    sock: socket.socket
    address: Any
    deadline: float
    data: bytearray


class BoundedHTTPServer:
    """Listens on ``address`` and answers each request with ``handler_class`` (a :class:`BoundedRequestHandler`).

    Used like :class:`socketserver.TCPServer`: :meth:`serve_forever` in one thread,
    :meth:`shutdown` from another, then :meth:`server_close`.
    """

    address_family = socket.AF_INET

    def __init__(self, address: tuple[str, int], handler_class: type[BoundedRequestHandler],
                 limits: Limits = Limits()) -> None:
        self.handler_class = handler_class
        self.limits = limits
        self.socket = socket.socket(self.address_family, socket.SOCK_STREAM)
        try:
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.socket.bind(address)
            self.socket.listen(64)
        except OSError:
            self.socket.close()
            raise
        self.socket.setblocking(False)
        self.server_address = self.socket.getsockname()
        self._wake_r, self._wake_w = socket.socketpair()
        self._stop = threading.Event()
        self._stopped = threading.Event()
        self._stopped.set()
        self._pending: dict[socket.socket, _Pending] = {}  # in order of arrival: the first is the oldest
        self._queue: queue.Queue = queue.Queue(limits.queue)
        self._answering = 0  # connections handed to the queue or a worker and not closed yet
        self._count_lock = threading.Lock()

    # -- the loop ------------------------------------------------------------------------------
    def serve_forever(self, poll_interval: float = 0.5) -> None:
        self._stop.clear()
        self._stopped.clear()
        workers = [threading.Thread(target=self._work, name=f"web-worker-{i}", daemon=True)
                   for i in range(self.limits.workers)]
        for w in workers:
            w.start()
        sel = selectors.DefaultSelector()
        sel.register(self.socket, selectors.EVENT_READ, "listen")
        sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        try:
            while not self._stop.is_set():
                timeout = poll_interval
                if self._pending:
                    oldest = next(iter(self._pending.values()))
                    timeout = max(0.0, min(timeout, oldest.deadline - time.monotonic()))
                for key, _ in sel.select(timeout):
                    try:
                        if key.data == "listen":
                            self._accept(sel)
                        elif key.data == "wake":
                            self._wake_r.recv(64)
                        else:
                            self._read(sel, key.fileobj)
                    except Exception:  # noqa: BLE001: one connection's failure must not end the loop
                        log.exception("reading a request failed")
                        if key.fileobj in self._pending:
                            self._drop(sel, key.fileobj)
                self._expire(sel)
        finally:
            for sock in list(self._pending):
                self._drop(sel, sock)
            sel.close()
            for _ in workers:
                self._queue.put(None)
            for w in workers:
                w.join(self.limits.write_timeout_s + 1)
            self._stopped.set()

    def shutdown(self) -> None:
        """Stop :meth:`serve_forever` and wait until it returned (call it from another thread)."""
        self._stop.set()
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        self._stopped.wait()

    def server_close(self) -> None:
        self.socket.close()
        self._wake_r.close()
        self._wake_w.close()

    def _accept(self, sel: selectors.BaseSelector) -> None:
        for _ in range(64):  # what arrived since the last select, a bounded batch at a time
            try:
                sock, address = self.socket.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # out of file descriptors: the next loop tries again
                log.warning("cannot accept a connection: %s", exc)
                return
            sock.setblocking(False)
            if len(self._pending) + self._answering >= self.limits.connections:
                if not self._pending:  # every connection is being answered: this one waits for nothing
                    self._refuse(sock, 503, "Service Unavailable", "too many connections; try again")
                    continue
                self._drop(sel, next(iter(self._pending)))  # the oldest head still arriving
            self._pending[sock] = _Pending(sock, address, time.monotonic() + self.limits.head_timeout_s, bytearray())
            sel.register(sock, selectors.EVENT_READ, "client")

    def _read(self, sel: selectors.BaseSelector, sock: socket.socket) -> None:
        pending = self._pending[sock]
        try:
            chunk = sock.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._drop(sel, sock)
            return
        pending.data += chunk
        end = _head_end(pending.data)
        if end < 0 and len(pending.data) <= self.limits.head_bytes:
            return  # more to come
        sel.unregister(sock)
        del self._pending[sock]
        if end < 0 or end > self.limits.head_bytes:
            self._refuse(sock, 431, "Request Header Fields Too Large",
                         f"the request head is over {self.limits.head_bytes} bytes")
            return
        head = bytes(pending.data)  # with what already arrived after it (a POST body's start): the handler reads on
        refusal = self.admit(head)
        if refusal is not None:  # refused at the door: it never takes a place in the queue
            self._refuse(sock, 503, "Service Unavailable", refusal)
            return
        with self._count_lock:
            self._answering += 1
        try:
            self._queue.put_nowait((sock, pending.address, head))
        except queue.Full:
            with self._count_lock:
                self._answering -= 1
            Admission(self, head).release()
            self._refuse(sock, 503, "Service Unavailable", "busy; try again in a second")

    # -- what a subclass may limit further ---------------------------------------------------------
    def admit(self, head: bytes) -> str | None:
        """Called in the loop with each complete head: None to answer it, or why it gets 503 now."""
        return None

    def finished(self, head: bytes) -> None:
        """Called once for every head :meth:`admit` let through, when it has been answered (or dropped)."""

    def _expire(self, sel: selectors.BaseSelector) -> None:
        now = time.monotonic()
        while self._pending:
            sock, pending = next(iter(self._pending.items()))
            if pending.deadline > now:
                return
            sel.unregister(sock)
            del self._pending[sock]
            self._refuse(sock, 408, "Request Timeout",
                         f"the request head did not arrive within {self.limits.head_timeout_s:g} s")

    def _drop(self, sel: selectors.BaseSelector, sock: socket.socket) -> None:
        sel.unregister(sock)
        del self._pending[sock]
        sock.close()

    @staticmethod
    def _refuse(sock: socket.socket, code: int, reason: str, text: str) -> None:
        """A short answer, sent without waiting (a client that does not read it gets nothing), then close."""
        body = (text + "\n").encode()
        try:
            for _ in range(64):  # what the client already sent: closing with it unread would reset the answer
                if not sock.recv(4096):
                    break
        except OSError:
            pass
        retry = "Retry-After: 1\r\n" if code == 503 else ""
        try:
            sock.send(f"HTTP/1.0 {code} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n"
                      f"Content-Length: {len(body)}\r\nConnection: close\r\n{retry}\r\n".encode() + body)
        except OSError:
            pass
        _close(sock)

    # -- the workers ---------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            sock, address, head = item
            admission = Admission(self, head)
            try:
                sock.setblocking(True)
                self.handler_class(sock, address, self, head, admission)
            except Exception:  # noqa: BLE001: one request's failure must not end a worker
                log.exception("answering %s failed", address[0] if address else "?")
            finally:
                admission.release()
                _close(sock)
                with self._count_lock:
                    self._answering -= 1


def _head_end(data: bytearray) -> int:
    """Where a request head ends (after its empty line), or -1 while it is incomplete."""
    ends = [i + n for i, n in ((data.find(b"\r\n\r\n"), 4), (data.find(b"\n\n"), 2)) if i >= 0]
    return min(ends) if ends else -1


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_WR)  # the answer first, then the end of the connection
    except OSError:
        pass
    sock.close()
