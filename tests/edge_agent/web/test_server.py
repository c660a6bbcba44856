"""The HTTP side: headers, the Host/Origin/token checks, the one write, and what needs no journal."""
from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from edge_agent.web.server import CSP, StatusServer, is_loopback, parse_listen, read_token
from tests.edge_agent.web.conftest import served

TOKEN = "a-test-token-of-24-chars"


def call(url: str, *, method: str = "GET", headers: dict | None = None, data: bytes | None = None):
    req = urllib.request.Request(url, method=method, headers=headers or {}, data=data)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def requests_rows(path) -> int:
    import sqlite3

    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT COUNT(*) FROM requests").fetchone()[0]
    finally:
        db.close()


def test_page_and_api_carry_a_strict_csp_and_serve_only_the_known_files(journal_path):
    with served(journal_path) as url:
        status, headers, body = call(url + "/")
        assert status == 200 and headers["Content-Security-Policy"] == CSP and "'unsafe-inline'" not in CSP
        assert b'<script src="/static/app.js"' in body and b"<script>" not in body  # no inline script
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert call(url + "/static/app.js")[1]["Content-Type"].startswith("text/javascript")
        assert call(url + "/static/../server.py")[0] == 404
        status, _, body = call(url + "/api/status")
        assert status == 200 and json.loads(body)["stream"]["device_id"] == "board-1"
        assert call(url + "/api/timeline?range=1y")[0] == 400


def test_ack_needs_the_page_origin_and_writes_one_request_row(journal_path):
    with served(journal_path) as url:
        before = requests_rows(journal_path)
        assert call(url + "/api/ack", method="POST", data=b"{}")[0] == 403  # no Origin
        assert call(url + "/api/ack", method="POST", data=b"{}", headers={"Origin": "http://evil.example"})[0] == 403
        assert call(url + "/api/ack")[0] == 404  # GET never acknowledges
        assert requests_rows(journal_path) == before
        status, _, body = call(url + "/api/ack", method="POST", data=b"{}", headers={"Origin": url})
        assert status == 202 and json.loads(body)["source"] == "web 127.0.0.1"
        assert requests_rows(journal_path) == before + 1


def test_foreign_host_names_get_nothing(journal_path):
    with served(journal_path) as url:
        assert call(url + "/api/status", headers={"Host": "attacker.example"})[0] == 403  # DNS rebinding
        assert call(url + "/api/status", headers={"Host": "localhost"})[0] == 200
    with served(journal_path, allowed_hosts=("pump-7.plant.lan",)) as url:
        assert call(url + "/api/status", headers={"Host": "pump-7.plant.lan:8080"})[0] == 200


def test_with_a_token_nothing_answers_without_it(journal_path):
    with served(journal_path, token=TOKEN) as url:
        assert call(url + "/")[0] == 403 and call(url + "/api/status")[0] == 403
        assert call(url + "/api/ack", method="POST", data=b"{}", headers={"Origin": url})[0] == 403
        assert call(url + "/?token=wrong")[0] == 403
        # the token in the address moves into an HttpOnly, SameSite=Strict cookie
        opener = urllib.request.build_opener(NoRedirect)
        try:
            opener.open(url + f"/?token={TOKEN}")
        except urllib.error.HTTPError as exc:
            assert exc.code == 303
            cookie = exc.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        jar = {"Cookie": cookie.split(";")[0]}
        assert call(url + "/api/status", headers=jar)[0] == 200
        assert call(url + "/api/ack", method="POST", data=b"{}", headers={**jar, "Origin": url})[0] == 202
        assert call(url + "/api/status", headers={"Authorization": f"Bearer {TOKEN}"})[0] == 200


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_beyond_loopback_needs_a_token_before_anything_is_bound(journal_path, tmp_path):
    with pytest.raises(ValueError, match=r"0\.0\.0\.0 makes the page reachable from the network: set \[web\] "
                                         "token_file"):
        StatusServer(("0.0.0.0", 0), journal_path)
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.20")
    assert parse_listen("0.0.0.0:8080") == ("0.0.0.0", 8080) and parse_listen("[::1]:81") == ("::1", 81)
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_listen("8080")
    short = tmp_path / "short"
    short.write_text("abc\n")
    with pytest.raises(ValueError, match="at least 16"):
        read_token(str(short))
    good = tmp_path / "good"
    good.write_text(TOKEN + "\n")
    assert read_token(str(good)) == TOKEN


def test_cli_refuses_a_lan_address_without_token(journal_path):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "edge_agent.cli.main", "web", "--journal", str(journal_path),
                           "--listen", "0.0.0.0:0"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "token_file" in proc.stderr


def test_no_journal_yet_is_an_answer_not_an_error(tmp_path):
    missing = tmp_path / "later" / "journal.sqlite"
    with served(missing) as url:
        status, _, body = call(url + "/api/status")
        assert status == 200 and json.loads(body)["journal"]["ok"] is False
        assert call(url + "/api/timeline")[0] == 503
    assert not missing.parent.exists()


def _held(url: str, head: bytes = b"GET /api/status HTTP/1.0\r\nHost: 127.0.0.1\r\n"):
    import socket

    host, port = url.removeprefix("http://").split(":")
    s = socket.create_connection((host, int(port)), timeout=20)
    s.sendall(head)
    return s


def test_a_request_head_that_never_ends_is_answered_408_and_closed(journal_path):
    """Issue 21 #14: no connection stays open by sending its head slowly."""
    from edge_agent.web.bounded_server import Limits

    with served(journal_path, limits=Limits(head_timeout_s=0.5)) as url:
        s = _held(url)
        try:
            s.sendall(b"X-Slow: 1\r\n")  # trickling does not extend the deadline
            answer = b""
            while chunk := s.recv(4096):  # until the server closes the connection
                answer += chunk
            assert answer.startswith(b"HTTP/1.0 408")
        finally:
            s.close()
        assert call(url + "/api/status")[0] == 200


def test_a_request_head_over_the_cap_is_refused_and_the_oldest_held_connection_makes_room(journal_path):
    """Issue 21 #13, #14: 431 for a head over the cap; a full server drops its oldest unfinished head, not the page."""
    from edge_agent.web.bounded_server import Limits

    with served(journal_path, limits=Limits(head_bytes=1024, connections=4)) as url:
        s = _held(url, b"GET / HTTP/1.0\r\nX-Pad: " + b"a" * 2000 + b"\r\n\r\n")
        try:
            assert s.recv(100).startswith(b"HTTP/1.0 431")
        finally:
            s.close()
        held = [_held(url) for _ in range(4)]
        try:
            status, _, body = call(url + "/api/status")
            assert status == 200 and json.loads(body)["journal"]["ok"]
            try:  # the oldest made room: closed without an answer (reset: its head was left unread)
                assert held[0].recv(100) == b""
            except ConnectionResetError:
                pass
        finally:
            for s in held:
                s.close()


@pytest.mark.parametrize("listen", ["127.0.0.1:²", "127.0.0.1:٣", "127.0.0.1:" + "9" * 5000, "127.0.0.1:65536"])
def test_a_port_that_is_not_ascii_digits_gets_the_listen_message(listen):
    """Issue 21 #25: "²" is a digit to str.isdigit, and int() then failed with its own (numpy-style) words."""
    with pytest.raises(ValueError, match=r"--listen must be HOST:PORT such as 127\.0\.0\.1:8080"):
        parse_listen(listen)


def test_rebaseline_from_the_page_needs_the_origin_and_a_reason_and_queues_who_and_why(journal_path):
    import sqlite3

    with served(journal_path) as url:
        before = requests_rows(journal_path)
        body = json.dumps({"reason": "bearing 1 replaced, WO 4711", "by": "alice"}).encode()
        assert call(url + "/api/rebaseline", method="POST", data=body)[0] == 403  # no Origin
        status, _, answer = call(url + "/api/rebaseline", method="POST", data=b'{"by": "alice"}',
                                 headers={"Origin": url, "Content-Type": "application/json"})
        assert status == 400 and "needs a 'reason'" in json.loads(answer)["error"]
        assert call(url + "/api/rebaseline", method="POST", data=b"not json", headers={"Origin": url})[0] == 400
        assert requests_rows(journal_path) == before
        status, _, answer = call(url + "/api/rebaseline", method="POST", data=body,
                                 headers={"Origin": url, "Content-Type": "application/json"})
        assert status == 202 and json.loads(answer)["reason"] == "bearing 1 replaced, WO 4711", answer
    db = sqlite3.connect(journal_path)
    try:
        kind, source = db.execute("SELECT kind, source FROM requests ORDER BY id DESC LIMIT 1").fetchone()
    finally:
        db.close()
    assert kind == "rebaseline" and json.loads(source) == {"by": "alice", "reason": "bearing 1 replaced, WO 4711"}
