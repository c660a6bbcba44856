"""The status page's HTTP server: the page, its JSON API, and the one write (acknowledge).

Why the standard library and not a framework: the page is a handful of routes
polled by one or two browsers, and the process must stay small beside the agent
on a Raspberry Pi (goal: 30 MiB peak RSS). The server underneath is
:class:`~edge_agent.web.bounded_server.BoundedHTTPServer`: a fixed pool of
threads, bounded request heads, idle connections timed out, open connections
capped; here at most :data:`HEAVY_QUERIES` timeline or snapshot queries run at
once (the others get 503 and the page retries), so a flood of them cannot take
the memory or the time ``/api/status`` needs.

Safe by default:

* it binds ``127.0.0.1`` unless told otherwise; any other address needs a
  token (``[web] token_file``), checked on every request (cookie set from
  ``/?token=...``, or ``Authorization: Bearer ...``);
* every request's ``Host`` must be one this machine answers to (an IP
  address, ``localhost``, the host name, or ``[web] allowed_hosts``), so a
  web site that points its own name at the Pi (DNS rebinding) gets nothing;
* the only state change is ``POST /api/ack``, which also needs an ``Origin``
  equal to the page's own: another site cannot make a visitor's browser
  acknowledge (the cookie is ``SameSite=Strict`` too). ``GET`` never writes;
* every response carries a restrictive Content-Security-Policy: scripts and
  styles only from this server's files, no inline script, no framing.

The journal is opened read-only for every read (``mode=ro``); the
acknowledgement goes through a separate, short-lived write connection that
inserts one row into ``requests``, exactly what ``bearing-agent ack`` does.
"""
from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import math
import socket
import threading
from http import HTTPStatus
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from edge_agent.journal import Journal, JournalError
from edge_agent.secret_file import SecretFileError, read_secret
from edge_agent.status import acknowledge, parse_rebaseline_command, queue_rebaseline
from edge_agent.web import api
from edge_agent.web.bounded_server import BoundedHTTPServer, BoundedRequestHandler, Limits

log = logging.getLogger("edge_agent.web")

STATIC_DIR = Path(__file__).with_name("static")
#: The files the page is made of: name -> content type. Nothing else is served from disk.
STATIC_FILES = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
                "style.css": "text/css; charset=utf-8"}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
COOKIE = "bearing_token"
#: Timeline and snapshot queries answered at once (each reads up to a year of rows); the
#: server's other workers stay free for ``/api/status`` and the page's files.
HEAVY_QUERIES = 1
HEAVY_ROUTES = frozenset({"/api/timeline", "/api/snapshots"})
#: SQLite's integers: a larger ``after_id`` cannot name a row (and would not fit its binding).
MAX_ROW_ID = 2**63 - 1


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a listen address) is reachable only from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8080`` for IPv6) -> (host, port), with a message that says what is wrong."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    # ASCII digits only: "²" and "٣" are digits to str.isdigit, and int() then fails with its own words.
    if not sep or not host or not (port.isascii() and port.isdigit() and len(port) <= 5) or int(port) > 65535:
        raise ValueError(f"--listen must be HOST:PORT such as 127.0.0.1:8080 or 0.0.0.0:8080, got {text!r}")
    return host, int(port)


def read_token(path: str) -> str:
    """The token from ``[web] token_file``: its first line, at least 16 characters."""
    try:
        token = read_secret(path, "[web] token_file").strip()
    except SecretFileError as exc:
        raise ValueError(f"{exc}; create one with (umask 077; python3 -c 'import secrets; "
                         f"print(secrets.token_urlsafe(24))' > {path})") from None
    if len(token) < 16:
        raise ValueError(f"[web] token_file {path}: the token has {len(token)} characters; use at least 16 "
                         "(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')")
    return token


class StatusServer(BoundedHTTPServer):
    """Serves the page for one journal. ``token`` None: no token asked (loopback only)."""

    def __init__(self, address: tuple[str, int], journal_path: str | Path, *, token: str | None = None,
                 allowed_hosts: tuple[str, ...] = (), limits: Limits = Limits()) -> None:
        host = address[0]
        if not is_loopback(host) and not token:
            raise ValueError(f"listening on {host} makes the page reachable from the network: set [web] "
                             "token_file (see docs/status_page.md), or use an SSH tunnel to 127.0.0.1")
        if ":" in host:
            self.address_family = socket.AF_INET6
        self.journal_path = Path(journal_path)
        self.token = token
        names = {"localhost", socket.gethostname().lower(), f"{socket.gethostname().lower()}.local",
                 socket.getfqdn().lower(), *(h.lower() for h in allowed_hosts)}
        self.allowed_hosts = frozenset(names)
        self._heavy = 0  # timeline and snapshot queries admitted and not answered yet
        self._heavy_lock = threading.Lock()
        super().__init__(address, StatusHandler, limits)

    def admit(self, head: bytes) -> str | None:
        """At most :data:`HEAVY_QUERIES` long queries queued or running; the others are refused at the door, so
        a flood of them never fills the workers' queue that ``/api/status`` waits in."""
        if not _is_heavy(head):
            return None
        with self._heavy_lock:
            if self._heavy >= HEAVY_QUERIES:
                return "busy: another long query (a timeline or snapshot page) is running; try again in a second"
            self._heavy += 1
        return None

    def finished(self, head: bytes) -> None:
        if _is_heavy(head):
            with self._heavy_lock:
                self._heavy -= 1

    def host_allowed(self, host_header: str) -> bool:
        """Whether a request's ``Host`` names this machine (not a foreign name pointed at it)."""
        host = urlsplit(f"//{host_header}").hostname or ""
        if host in self.allowed_hosts:
            return True
        try:
            ipaddress.ip_address(host)
            return True
        except ValueError:
            return False


class StatusHandler(BoundedRequestHandler):
    server: StatusServer
    server_version = "bearing-agent-web"
    sys_version = ""

    # -- routing -------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if not self._host_ok():
            return
        if url.path == "/" and self.server.token and "token" in query:
            return self._login(query["token"])
        if not self._authorised():
            return
        if url.path == "/":
            return self._static("index.html")
        if url.path == "/favicon.ico":  # browsers ask for it; the page has none
            return self._send(b"", "image/x-icon", HTTPStatus.NO_CONTENT)
        if url.path.startswith("/static/"):
            return self._static(url.path.removeprefix("/static/"))
        routes: dict[str, Callable[[Journal, dict], dict]] = {
            "/api/status": lambda j, q: api.status(j),
            "/api/timeline": lambda j, q: api.timeline(j, q.get("range", "24h"),
                                                       _int(q, "points", api.DEFAULT_POINTS)),
            "/api/snapshots": lambda j, q: api.snapshots(j, _opt_float(q, "since"), _opt_int(q, "after_id"),
                                                         _int(q, "limit", 1000)),
            "/api/events": lambda j, q: api.events(j, _int(q, "last", 50), q.get("kind")),
            "/api/spectrum": lambda j, q: api.spectrum(j),
        }
        if url.path not in routes:
            return self._send_json({"error": f"no such page: {url.path}"}, HTTPStatus.NOT_FOUND)
        path, route = url.path, routes[url.path]
        try:
            journal = api.open_journal(self.server.journal_path)
        except JournalError as exc:
            if path == "/api/status":
                return self._send_json(api.no_journal(self.server.journal_path, str(exc)))
            return self._send_json({"error": str(exc)}, HTTPStatus.SERVICE_UNAVAILABLE)
        try:
            answer, status = route(journal, query), HTTPStatus.OK
        except ValueError as exc:  # a bad query parameter: say which
            answer, status = {"error": str(exc)}, HTTPStatus.BAD_REQUEST
        finally:
            journal.close()
        self.admission.release()  # the query is done: the next one may start while this answer travels
        self._send_json(answer, status)

    def do_POST(self) -> None:  # noqa: N802
        if not self._host_ok() or not self._authorised() or not self._same_origin():
            return
        path = urlsplit(self.path).path
        if path == "/api/rebaseline":
            return self._post_rebaseline()
        if path != "/api/ack":
            return self._send_json({"error": "the POSTs are /api/ack and /api/rebaseline"}, HTTPStatus.NOT_FOUND)
        source = f"web {self.client_address[0]}"
        try:
            # A write connection of its own, open only for this one insert: reads stay read-only.
            journal = Journal(self.server.journal_path, create=False)
        except JournalError as exc:
            return self._send_json({"error": str(exc)}, HTTPStatus.SERVICE_UNAVAILABLE)
        try:
            ack = acknowledge(journal, source)  # exactly what `bearing-agent ack` queues
        finally:
            journal.close()
        log.info("acknowledgement queued from %s", source)
        self._send_json({"queued": True, "source": source, "alarm_latched": ack.alarm_latched,
                         "agent_running": ack.agent_running}, HTTPStatus.ACCEPTED)

    def _post_rebaseline(self) -> None:
        """``POST /api/rebaseline`` with ``{"reason": "...", "by": "..."}`` or ``{"undo": true}``: what
        ``bearing-agent rebaseline`` queues, behind the same token and origin checks as the acknowledgement."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 < length <= 4096:
            return self._send_json({"error": "send a JSON body of at most 4096 bytes with Content-Length"},
                                   HTTPStatus.BAD_REQUEST)
        # The bounded server hands over the head it received; the rest of this small body is read here, within
        # the socket's timeout, never more than Content-Length (at most 4096 bytes).
        body = self.rfile.read(length)
        try:
            while len(body) < length and (chunk := self.connection.recv(length - len(body))):
                body += chunk
        except OSError:
            return self._send_json({"error": "the request body did not arrive in time"}, HTTPStatus.BAD_REQUEST)
        try:
            command = parse_rebaseline_command(body, default_by=f"web {self.client_address[0]}")
        except ValueError as exc:
            return self._send_json({"error": str(exc)}, HTTPStatus.BAD_REQUEST)
        try:
            journal = Journal(self.server.journal_path, create=False)
        except JournalError as exc:
            return self._send_json({"error": str(exc)}, HTTPStatus.SERVICE_UNAVAILABLE)
        try:
            running = queue_rebaseline(journal, command["by"], command["reason"], undo=command["undo"])
        finally:
            journal.close()
        log.info("re-baseline queued from %s", self.client_address[0])
        self._send_json({"queued": True, **command, "agent_running": running}, HTTPStatus.ACCEPTED)

    def do_PUT(self) -> None:  # noqa: N802
        self._send_json({"error": "method not allowed"}, HTTPStatus.METHOD_NOT_ALLOWED)

    do_DELETE = do_PATCH = do_PUT

    # -- the checks ------------------------------------------------------------------------
    def _host_ok(self) -> bool:
        if self.server.host_allowed(self.headers.get("Host", "")):
            return True
        self._send_text("this server does not answer to that host name; add it to [web] allowed_hosts",
                        HTTPStatus.FORBIDDEN)
        return False

    def _authorised(self) -> bool:
        token = self.server.token
        if token is None:
            return True
        offered = ""
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            offered = auth.removeprefix("Bearer ").strip()
        else:
            cookie = SimpleCookie(self.headers.get("Cookie", ""))
            offered = cookie[COOKIE].value if COOKIE in cookie else ""
        if offered and hmac.compare_digest(offered.encode(), token.encode()):
            return True
        self._send_text("a token is needed: open http://<this host>:<port>/?token=<the token in [web] token_file>",
                        HTTPStatus.FORBIDDEN)
        return False

    def _same_origin(self) -> bool:
        """A state change only from the page itself: ``Origin`` must be this server as the browser named it."""
        origin = self.headers.get("Origin")
        if origin and urlsplit(origin).netloc == self.headers.get("Host", "") and \
                urlsplit(origin).scheme in ("http", "https"):
            return True
        self._send_json({"error": "cross-origin request refused (Origin must be this page)"}, HTTPStatus.FORBIDDEN)
        return False

    def _login(self, offered: str) -> None:
        if not hmac.compare_digest(offered.encode(), self.server.token.encode()):
            return self._send_text("wrong token", HTTPStatus.FORBIDDEN)
        # The token moves from the address bar into a cookie the page's script cannot read.
        self.send_response(HTTPStatus.SEE_OTHER)
        self.send_header("Location", "/")
        self.send_header("Set-Cookie", f"{COOKIE}={offered}; HttpOnly; SameSite=Strict; Path=/")
        self._common_headers()
        self.send_header("Content-Length", "0")
        self.end_headers()

    # -- responses -------------------------------------------------------------------------
    def _common_headers(self) -> None:
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Cache-Control", "no-store")

    def _send(self, body: bytes, content_type: str, status: HTTPStatus) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self._common_headers()
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_json(self, payload: Any, status: HTTPStatus = HTTPStatus.OK) -> None:
        self._send(json.dumps(payload, separators=(",", ":"), allow_nan=False).encode(), "application/json", status)

    def _send_text(self, text: str, status: HTTPStatus) -> None:
        self._send(text.encode() + b"\n", "text/plain; charset=utf-8", status)

    def _static(self, name: str) -> None:
        if name not in STATIC_FILES:
            return self._send_text("not found", HTTPStatus.NOT_FOUND)
        self._send((STATIC_DIR / name).read_bytes(), STATIC_FILES[name], HTTPStatus.OK)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # The page polls every few seconds: log refusals and errors only, not every answer.
        if isinstance(code, int) and code >= 400:
            log.warning("%s %s %s -> %d", self.client_address[0], self.command, self.path.split("?")[0], code)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's signature)
        log.info("%s %s", self.client_address[0], format % args)


def _is_heavy(head: bytes) -> bool:
    """Whether a request head asks for a timeline or snapshot query."""
    target = head.split(b"\n", 1)[0].split()[1:2]
    return bool(target) and urlsplit(target[0].decode("latin-1")).path in HEAVY_ROUTES


def _int(query: dict, name: str, default: int) -> int:
    value = _opt_int(query, name)
    return default if value is None else value


def _opt_int(query: dict, name: str) -> int | None:
    """A whole-number parameter from 0 to 2**63-1 (SQLite's range), or ValueError naming it (a 400 answer)."""
    text = query.get(name)
    if text in (None, ""):
        return None
    if len(text) > 19 or not text.isdigit() or int(text) > MAX_ROW_ID:
        raise ValueError(f"{name} must be a whole number from 0 to {MAX_ROW_ID}, got {text[:40]!r}")
    return int(text)


def _opt_float(query: dict, name: str) -> float | None:
    """A finite number parameter (unix seconds), or ValueError naming it."""
    text = query.get(name)
    if text in (None, ""):
        return None
    try:
        value = float(text[:64])
    except ValueError:
        value = math.nan
    if len(text) > 64 or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number (unix seconds), got {text[:40]!r}")
    return value
