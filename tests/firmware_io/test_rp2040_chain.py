"""The whole chain on emulated silicon: recorded vibration -> RP2040 firmware -> UART -> pty -> agent -> journal.

The UF2 that ``make firmware`` builds boots in rp2040js (``firmware_io/emulation/run_rp2040.mjs``)
through the real RP2040 bootrom when it is available (``../shared/firmware/``, not committed: see
docs/hardware.md; otherwise the harness's stand-in checks boot2's CRC and starts it). Its ADC inputs
are IMS test 2 snapshots as the documented front end would deliver them (2.5 mg per count around
mid-scale), UART0 runs at its line rate into a pty, and the real ``bearing-agent run`` scores it.

* At 2 Mbaud every sample arrives exactly as digitised, the journaled features are those of the
  digitised samples, and every journaled score equals offline ``bearing-agent score``.
* At 1 Mbaud (too slow for 4 x 20 kHz) the device drops whole blocks when its buffer is full: its
  DeviceStatus ``adc_overruns`` equals the missing samples the host counts at every status, the
  agent counts the same, and no snapshot with a hole is scored.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from edge_agent.cli import main as cli
from edge_agent.features.registry import mean_abs
from edge_agent.journal import Journal, JournalError
from firmware_io.protocol import frames as fr
from firmware_io.protocol.decoder import StreamDecoder
from firmware_io.recordings import ims as datasets
from firmware_io.recordings import reader as rec
from firmware_io.simulator.ports import PtyPort
from tests.agent_fixtures import bundle_dir, raw_test2_files, wait_for
from tests.conftest import IN_CI, require_executable
from tests.firmware_io.test_firmware_build import build_firmware
from tests.support.logged_process import LoggedProcess

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals need a POSIX system")

EMULATION = datasets.REPO_ROOT / "firmware_io" / "emulation"
BOOTROM_SHA256 = "90b31e108faedfa6bbcfcc33ba05dac61e645108cfbbdc385f8dafc71fde44ae"
#: the front end of docs/hardware.md: g per ADC count, and the code of 0 g
G_PER_COUNT = 0.0025
MIDSCALE = 2048
N = 20480
#: IMS test 2 snapshots fed to the ADC: healthy, early wear, two of the failing bearing (large and varied)
SNAPSHOTS = ("2004.02.12.10.32.39", "2004.02.17.10.32.39", "2004.02.19.05.02.39", "2004.02.19.05.42.39")


def real_bootrom() -> Path | None:
    """The RP2040 B1 bootrom from ``$BEARING_EDGE_RP2040_BOOTROM`` or ``../shared/firmware/``, if there."""
    path = Path(os.environ.get("BEARING_EDGE_RP2040_BOOTROM")
                or datasets.REPO_ROOT.parent / "shared" / "firmware" / "rp2040-bootrom-b1.bin")
    if not path.is_file():
        return None
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == BOOTROM_SHA256, f"{path}: sha256 {digest} is not the B1 bootrom's ({BOOTROM_SHA256})"
    return path


def node_harness() -> list[str]:
    """``node run_rp2040.mjs``; skips (fails under CI) naming what is missing."""
    node = require_executable("node", "nodejs")
    if not (EMULATION / "node_modules" / "rp2040js").is_dir():
        reason = (f"rp2040js is not installed in {EMULATION}: run 'npm ci' there "
                  "(make test's .ci/system-packages.sh does it)")
        if IN_CI:
            pytest.fail(f"CI=true: {reason}")
        pytest.skip(reason)
    return [node, str(EMULATION / "run_rp2040.mjs")]


def adc_codes(files: list[Path]) -> np.ndarray:
    """(samples, 4) ADC codes of recorded snapshots through the front end: 2.5 mg a count, 0 g at mid-scale."""
    g = np.concatenate([rec.read_snapshot_file(f) for f in files])
    return np.clip(np.rint(g / G_PER_COUNT) + MIDSCALE, 0, 4095).astype(np.uint16)


class EmulatedBoard:
    """The harness as a process: its UART bytes forwarded into a pty (the agent opens ``link``).

    A pty holds what the reader has not taken, and a full pty stops the forwarding, which stops the
    emulator: like USB CDC, the link itself loses nothing; overruns come from the modelled UART.
    """

    def __init__(self, tmp: Path, uf2: Path, codes: np.ndarray, seconds: float, link: Path,
                 speed: float = 1.0) -> None:
        adc = tmp / "adc.u16"
        codes.astype("<u2").tofile(adc)
        self.capture, self.stats_path = tmp / "uart.bin", tmp / "stats.json"
        bootrom = real_bootrom()
        cmd = [*node_harness(), "--uf2", str(uf2), "--adc", str(adc), "--seconds", str(seconds),
               "--capture", str(self.capture), "--stats", str(self.stats_path), "--speed", str(speed)]
        if bootrom is not None:
            cmd += ["--bootrom", str(bootrom)]
        self.port = PtyPort(link)
        self.stop = threading.Event()
        self.stderr = (tmp / "harness.err").open("w+")
        self.proc = subprocess.Popen(["nice", "-n", "10", *cmd], stdout=subprocess.PIPE, stderr=self.stderr)
        self.forwarder = threading.Thread(target=self._forward, daemon=True)
        self.forwarder.start()

    def _forward(self) -> None:
        while chunk := self.proc.stdout.read1(65536):
            self.port.write(chunk, self.stop)
        self.port.drain(self.stop, timeout=60)

    def wait(self, timeout: float = 120) -> dict:
        """Wait for the emulated run to end and the agent to read everything; returns the harness's figures."""
        try:
            self.proc.wait(timeout)  # the forwarder, not this thread, reads its stdout
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        self.forwarder.join(90)
        self.stderr.seek(0)
        assert self.proc.returncode == 0, self.stderr.read()
        return json.loads(self.stats_path.read_text())

    def close(self) -> None:
        self.stop.set()
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.port.close()
        self.stderr.close()


def start_agent(tmp: Path, link: Path, bundle: Path) -> LoggedProcess:
    """``bearing-agent run`` as a user starts it (mock pins off a Pi; every snapshot taken)."""
    config = tmp / "agent.toml"
    config.write_text('[gpio]\npin_factory = "mock"\n[serial]\nread_timeout_s = 0.05\n'
                      'reconnect_initial_s = 0.05\nreconnect_max_s = 0.2\n')
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return LoggedProcess([sys.executable, "-m", "edge_agent.cli.main", "run", "--config", str(config),
                          "--bundle", str(bundle), "--port", str(link), "--journal", str(tmp / "journal.sqlite"),
                          "--interval", "0"], tmp / "agent.log", env=env)


def journal(path: Path) -> tuple[list[dict], dict[str, int]]:
    if not path.exists():
        return [], {}
    try:
        j = Journal(path, create=False)
    except JournalError:  # the agent is still creating it
        return [], {}
    try:
        return j.snapshots(), j.counters()
    finally:
        j.close()


def score_offline(table: Path, bundle: Path) -> list[tuple[float | None, bool]]:
    """``bearing-agent score`` of a feature table: (error, alarm) per row."""
    scores = table.with_name(table.stem + "_scores.csv")
    assert cli.main(["score", "--bundle", str(bundle), str(table), "-o", str(scores)]) == 0
    with scores.open() as fh:
        return [(float(r["error"]), r["alarm"] == "1") if r["error"] else (None, False) for r in csv.DictReader(fh)]


def offline_tables(tmp: Path, journal_path: Path, digitised: list[np.ndarray]) -> tuple[Path, Path]:
    """The journal's features (``bearing-agent export``), and the same table with each row's features
    computed here from the samples the firmware digitised (the snapshots the journal names, in order)."""
    exported, own = tmp / "exported.csv", tmp / "digitised.csv"
    assert cli.main(["export", "--journal", str(journal_path), "-o", str(exported)]) == 0
    with exported.open() as fh:
        rows = list(csv.reader(fh))
    assert len(rows) - 1 == len(digitised), f"export kept one snapshot a second: {len(rows) - 1} of {len(digitised)}"
    with own.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(rows[0])
        for row, samples in zip(rows[1:], digitised):
            out.writerow([row[0], *(repr(float(v)) for v in mean_abs(samples, G_PER_COUNT))])
    return exported, own


def decode(capture: Path) -> tuple[list, StreamDecoder]:
    dec = StreamDecoder()
    return dec.feed(capture.read_bytes()), dec


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    return bundle_dir(root=tmp_path_factory.mktemp("rp2040-bundle"))


@pytest.fixture(scope="module")
def recorded() -> list[Path]:
    files = {f.name: f for f in raw_test2_files()}
    return [files[name] for name in SNAPSHOTS]


@pytest.mark.slow
def test_firmware_digitises_and_the_agent_scores_like_offline(tmp_path: Path, bundle: Path, recorded) -> None:
    node_harness()
    uf2 = build_firmware(tmp_path / "fw")
    codes = adc_codes(recorded)
    link, journal_path = tmp_path / "ttyRP2040", tmp_path / "journal.sqlite"
    agent = start_agent(tmp_path, link, bundle)
    # 4 snapshots of 1.024 s, and 0.2 s for the boot and the last frames. At 0.4x real time (2.6 s a
    # snapshot, measured jitter of the stamps 0.3 s at 0.5x): the agent stamps
    # a device's snapshots with its wall clock, and the offline table (export) keeps one per second.
    board = EmulatedBoard(tmp_path, uf2, codes, seconds=len(SNAPSHOTS) * N / 20000 + 0.2, link=link, speed=0.4)
    try:
        stats = board.wait()
        wait_for(lambda: len(journal(journal_path)[0]) >= len(SNAPSHOTS), 120, "4 journaled snapshots")
    finally:
        board.close()
        agent.stop()
    print(f"\nharness: {stats}")

    # What the firmware sent: every sample as the front end digitised it, every frame checked.
    frames, dec = decode(board.capture)
    info = next(f for f in frames if isinstance(f, fr.StreamInfo))
    assert (info.device_id, info.firmware_version) == ("rp2040-ref", "rp2040-ref 1.0.0")
    assert (info.sample_rate_hz, info.n_channels, info.scale) == (20000, 4, G_PER_COUNT)
    assert info.snapshot_length == fr.CONTINUOUS  # it states it samples without pause (PROTOCOL.md 4.1)
    samples = [f for f in frames if isinstance(f, fr.Samples)]
    assert [f.seq for f in samples] == list(range(len(samples)))
    assert [f.first_index for f in samples] == [256 * k for k in range(len(samples))]
    sent = np.concatenate([f.samples for f in samples])
    assert len(sent) >= len(codes)
    expected = codes.astype(np.int16) - MIDSCALE
    np.testing.assert_array_equal(sent[:len(codes)], expected)
    assert dec.stats.bad_checks == dec.stats.missing_samples == 0
    statuses = [f for f in frames if isinstance(f, fr.DeviceStatus)]
    assert len(statuses) >= 4 and all(s.adc_overruns == s.tx_overruns == s.errors == 0 for s in statuses)
    # one status a second of samples, stamped by the TIMER (1 us ticks from the crystal), after a Samples frame
    for k, s in enumerate(statuses[1:], 1):
        assert abs(s.uptime_ms - 1000 * k) <= 30 and s.frames_sent == sum(f.first_index < 20000 * k for f in samples)

    # What the agent journaled: the digitised snapshots' features, scored exactly as offline.
    rows, counters = journal(journal_path)
    assert [r["first_index"] for r in rows[:4]] == [k * N for k in range(4)]
    for r in rows:
        k = r["first_index"] // N
        digitised = expected[k * N:(k + 1) * N]
        np.testing.assert_allclose(r["features"], mean_abs(digitised, G_PER_COUNT), rtol=0, atol=1e-12)
    # Offline: `bearing-agent score` of the exported journal, and of features computed here from the
    # digitised samples themselves; the agent's live scores must equal both.
    digitised = [expected[r["first_index"]:r["first_index"] + N] for r in rows]
    exported, own = offline_tables(tmp_path, journal_path, digitised)
    worst = 0.0
    for offline in (score_offline(exported, bundle), score_offline(own, bundle)):
        assert len(offline) == len(rows)
        scored = 0
        for r, (error, alarm) in zip(rows, offline):
            if r["error"] is None:
                assert error is None
                continue
            assert abs(r["error"] - error) <= 1e-6 and bool(r["alarm"]) == alarm
            worst = max(worst, abs(r["error"] - error))
            scored += 1
        assert scored >= len(SNAPSHOTS) - 1  # T = 2: all but the first
    assert counters.get("missing_samples", 0) == 0
    print(f"chain: {len(rows)} snapshots journaled, {scored} scored, max |journal - offline| error {worst:.3g} "
          "(exported features and features of the digitised samples); "
          f"boot ({stats['boot']}) to first UART byte {stats['first_uart_byte_s'] * 1e3:.2f} ms emulated; "
          f"core busy {stats['busy_share_streaming']:.1%}")


@pytest.mark.slow
def test_at_1_mbaud_device_overruns_equal_host_missing_samples_and_nothing_broken_is_scored(
        tmp_path: Path, bundle: Path, recorded) -> None:
    node_harness()
    uf2 = build_firmware(tmp_path / "fw", UART_BAUD="1000000")
    link, journal_path = tmp_path / "ttyRP2040", tmp_path / "journal.sqlite"
    agent = start_agent(tmp_path, link, bundle)
    board = EmulatedBoard(tmp_path, uf2, adc_codes(recorded[:2]), seconds=3.2, link=link)
    try:
        stats = board.wait()
        frames, dec = decode(board.capture)
        last_status = [f for f in frames if isinstance(f, fr.DeviceStatus)][-1]
        wait_for(lambda: journal(journal_path)[1].get("device_adc_overruns", -1) == last_status.adc_overruns,
                 60, "the agent to journal the last DeviceStatus")
    finally:
        board.close()
        agent.stop()
    assert stats["uart_baud"] == 1_000_000

    # At every DeviceStatus the device's count equals the gaps the host decoder has seen so far:
    # the firmware sends a status right after a Samples frame, so no dropped block is still unseen.
    replay, checked = StreamDecoder(), 0
    data = board.capture.read_bytes()
    statuses = []
    for i in range(0, len(data), 36):  # small pieces: the decoder's count as each status arrives
        for f in replay.feed(data[i:i + 36]):
            if isinstance(f, fr.DeviceStatus):
                statuses.append((f.adc_overruns, replay.stats.missing_samples))
    for device, host in statuses:
        assert device == host
        checked += device > 0
    # 1 Mbaud carries 48 of the 78 frames a second: over a third of the 20,000 sample ticks a second are lost
    assert checked >= 1 and statuses[-1][0] > 5000
    assert all(f.tx_overruns == 0 and f.errors == 0 for f in frames if isinstance(f, fr.DeviceStatus))
    assert dec.stats.seq_gaps == 0  # dropped on the device, not lost on the wire

    rows, counters = journal(journal_path)
    assert rows == []  # every snapshot had holes: none was scored
    assert counters["snapshots_discarded_gap"] >= 1
    # the agent's count of missing samples covers what came after the last status too
    assert counters["missing_samples"] >= counters["device_adc_overruns"] == last_status.adc_overruns
    print(f"\n1 Mbaud: device adc_overruns {[d for d, _ in statuses]}, host missing {[h for _, h in statuses]}, "
          f"agent missing_samples {counters['missing_samples']}, snapshots discarded {counters['snapshots_discarded_gap']}")
