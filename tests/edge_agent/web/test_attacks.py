"""The real ``bearing-agent web`` process under attack on loopback (issue 21, items 13-15).

Each attack is bounded in count and time and stops by itself; the process's
threads are sampled from /proc while an attack holds and its peak RSS
(``VmHWM``) is read after it. The goals: threads <= 64, peak RSS <= 64 MiB
(the unit's MemoryMax), and ``/api/status`` still answered during the attack.
The figures are printed (``pytest -s``); response-time goals live in
``benchmarks/bench_web.py``.
"""
from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support.memory_bound import bound_mib

from benchmarks.bench_web import fill_journal

REPO = Path(__file__).resolve().parents[3]
MAX_THREADS = 64
MAX_RSS_MIB = 64.0
ROWS = 100_000  # a fifth of a year's journal: each timeline query reads them all


def _proc_status(pid: int) -> dict[str, int]:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return {"threads": int(fields["Threads"]), "peak_rss_kib": int(fields["VmHWM"].split()[0])}


def _get(url: str, timeout: float = 30.0) -> tuple[int, float]:
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            r.read()
            code = r.status
    except urllib.error.HTTPError as exc:
        code = exc.code
    return code, time.perf_counter() - t0


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    """``bearing-agent web`` on a free loopback port serving a journal of ``ROWS`` snapshots."""
    journal = tmp_path_factory.mktemp("attacks") / "journal.sqlite"
    fill_journal(journal, ROWS)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "edge_agent.cli.main", "web", "--journal", str(journal),
                             "--listen", f"127.0.0.1:{port}", "--log-level", "ERROR"], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _get(base + "/static/style.css", timeout=5)
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read().decode()
                time.sleep(0.1)
        yield proc, port, base
    finally:
        proc.terminate()
        proc.wait(30)


class ThreadSampler:
    """The highest thread count of a process, sampled every 20 ms while the block runs."""

    def __init__(self, pid: int) -> None:
        self.pid, self.highest, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.highest = max(self.highest, _proc_status(self.pid)["threads"])
            self._stop.wait(0.02)

    def __enter__(self) -> "ThreadSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)
        self.highest = max(self.highest, _proc_status(self.pid)["threads"])


def test_huge_request_heads_are_refused_before_they_cost_memory(web):
    """Item 13: 15 connections, each sending 98 header lines of 64 KB before any check could refuse them."""
    proc, port, base = web
    line = b"X-Pad: " + b"a" * 65_000 + b"\r\n"

    def attack() -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
            try:
                s.sendall(b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                for _ in range(98):
                    s.sendall(line)
                s.sendall(b"\r\n")
                return s.recv(64)
            except OSError:  # the server closed the connection while we were still sending
                return b"closed"

    with ThreadSampler(proc.pid) as threads, ThreadPoolExecutor(15) as pool:
        answers = list(pool.map(lambda _: attack(), range(15)))
    status = _proc_status(proc.pid)
    print(f"\nheaders attack: answers {sorted(set(a[:12] for a in answers))}, threads <= {threads.highest}, "
          f"peak RSS {status['peak_rss_kib'] / 1024:.1f} MiB")
    assert all(a.startswith(b"HTTP/1.0 431") or a == b"closed" for a in answers), answers
    assert status["peak_rss_kib"] / 1024 <= bound_mib(MAX_RSS_MIB)
    assert _get(base + "/api/status")[0] == 200


def test_held_connections_neither_multiply_threads_nor_lock_the_page_out(web):
    """Item 14: 500 connections that send half a request head and hold it (slowloris)."""
    proc, port, base = web
    held = []
    try:
        with ThreadSampler(proc.pid) as threads:
            for _ in range(500):
                s = socket.create_connection(("127.0.0.1", port), timeout=20)
                s.sendall(b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
                held.append(s)
            time.sleep(0.5)  # the server has seen them all (or the old server's threads have started)
            code, seconds = _get(base + "/api/status")
        status = _proc_status(proc.pid)
        print(f"\nslowloris: 500 held, /api/status {code} in {seconds * 1000:.0f} ms, threads <= {threads.highest}, "
              f"peak RSS {status['peak_rss_kib'] / 1024:.1f} MiB")
        assert code == 200
        assert threads.highest <= MAX_THREADS
        assert status["peak_rss_kib"] / 1024 <= bound_mib(MAX_RSS_MIB)
    finally:
        for s in held:
            s.close()


def test_concurrent_heavy_queries_are_capped(web):
    """Item 15: 30 concurrent ``timeline?range=all``: a few run, the others are told to retry, status answers."""
    proc, port, base = web
    with ThreadSampler(proc.pid) as threads, ThreadPoolExecutor(31) as pool:
        timelines = [pool.submit(_get, base + "/api/timeline?range=all&points=2000") for _ in range(30)]
        code, seconds = pool.submit(_get, base + "/api/status").result()
        codes = [f.result()[0] for f in timelines]
    status = _proc_status(proc.pid)
    print(f"\n30 timelines: {codes.count(200)} answered, {codes.count(503)} told to retry; /api/status {code} in "
          f"{seconds * 1000:.0f} ms; threads <= {threads.highest}, peak RSS {status['peak_rss_kib'] / 1024:.1f} MiB")
    assert set(codes) <= {200, 503} and 200 in codes and 503 in codes
    assert code == 200
    assert threads.highest <= MAX_THREADS
    assert status["peak_rss_kib"] / 1024 <= bound_mib(MAX_RSS_MIB)
