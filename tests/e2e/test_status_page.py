"""The status page in a real headless Chromium, against a journal filled by a real agent on the bundled replay.

The pieces are the real ones: ``bearing-replay`` on a pty streaming the recorded
IMS test-2 snapshots (with a device id that is an XSS attempt), the agent with
the session's TFLite bundle and mock GPIO pins, and ``bearing-agent web`` as its
own process. The browser is Debian's ``chromium`` driven through
``/usr/bin/chromedriver`` (Selenium Manager never runs: no network). What the
page shows is compared with the journal, read independently here.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from edge_agent.journal import Journal
from edge_agent.service import Agent
from tests.agent_fixtures import ReplayThread, agent_config, bundle_dir, raw_test2_files, wait_for
from tests.conftest import require_executable

XSS = "<script>alert(1)</script>"
LAPTOP, PHONE = (1280, 900), (390, 844)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebProcess:
    """``bearing-agent web`` in a subprocess on a free 127.0.0.1 port, stopped with SIGTERM."""

    def __init__(self, journal: Path, tmp: Path, *, token: str | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = tmp / f"web-{self.port}.toml"
        text = f'[journal]\npath = "{journal}"\n[web]\nlisten = "127.0.0.1:{self.port}"\n'
        if token:
            (tmp / "web-token").write_text(token + "\n")
            text += f'token_file = "{tmp / "web-token"}"\n'
        config.write_text(text)
        self.proc = subprocess.Popen([sys.executable, "-m", "edge_agent.cli.main", "web", "--config", str(config)],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wait_for(self._answers, 30, "bearing-agent web to answer")

    def _answers(self) -> bool:
        assert self.proc.poll() is None, f"bearing-agent web exited: {self.proc.stdout.read()}"
        try:
            urllib.request.urlopen(self.url + "/static/style.css", timeout=2).close()
            return True
        except urllib.error.HTTPError:
            return True  # it answers (a token is asked)
        except OSError:
            return False

    def stop(self) -> None:
        self.proc.terminate()
        assert self.proc.wait(20) == 0
        self.proc.stdout.close()


def chromium(width: int, height: int):
    """Headless Debian Chromium through /usr/bin/chromedriver; Selenium Manager is never asked for a driver."""
    browser = require_executable("chromium", "chromium")
    driver_path = require_executable("/usr/bin/chromedriver", "chromium-driver")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--disable-extensions", f"--window-size={width},{height}"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=opts)
    set_viewport(driver, width, height)
    return driver


def page_text(driver, element_id: str) -> str:
    return driver.find_element("id", element_id).text


def wait_page(driver, predicate, timeout: float, what: str):
    wait_for(lambda: _safe(predicate, driver), timeout, what)


def _safe(predicate, driver) -> bool:
    from selenium.common.exceptions import StaleElementReferenceException, NoSuchElementException

    try:
        return bool(predicate(driver))
    except (StaleElementReferenceException, NoSuchElementException):
        return False


def alarm_runs(rows: list[dict]) -> int:
    """Uninterrupted runs of state 'alarm' in the journal: the shaded periods the page must show."""
    states = [r["state"] == "alarm" for r in rows]
    return sum(1 for i, s in enumerate(states) if s and (i == 0 or not states[i - 1]))


def journal_read(path: Path, fn):
    j = Journal(path, create=False)
    try:
        return fn(j)
    finally:
        j.close()


def healthy_copies(tmp: Path) -> list[Path]:
    """Healthy recorded snapshots (02-12 and 02-15) under later names, so they follow the failure in time.

    Replayed after the failure end they bring the error back under the threshold: the
    condition clears and only the latch is left, which an acknowledgement then ends.
    """
    out = tmp / "healthy-later"
    out.mkdir()
    files = raw_test2_files()
    copies = []
    for k, src in enumerate(files[5:11]):
        dst = out / f"2004.02.20.{k:02d}.00.39"
        shutil.copyfile(src, dst)
        copies.append(dst)
    return copies


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """A real agent (in this process, so the test can see its latch) that replayed the failure end of
    IMS test 2 and then healthy snapshots, with the XSS device id; and the page serving its journal."""
    require_executable("chromium", "chromium")
    require_executable("/usr/bin/chromedriver", "chromium-driver")
    tmp = tmp_path_factory.mktemp("status-page")
    files = raw_test2_files()
    sources = files[10:] + healthy_copies(tmp)
    link = tmp / "ttyBEARING"
    replay = ReplayThread(sources, link, speed=0, device_id=XSS).start()
    scored = []
    # no sensor fault once the replay has played everything: the page must show alarm, then normal
    config = agent_config(tmp, str(link), bundle=bundle_dir(), faults={"no_data_timeout_s": 600.0})
    agent = Agent(config, pin_factory=MockFactory(),
                  on_snapshot=lambda row, a: scored.append(row))
    thread = agent.start()
    journal = tmp / "journal.sqlite"
    web = None
    try:
        wait_for(lambda: len(scored) == len(sources), 120, f"{len(sources)} snapshots")
        wait_for(lambda: journal_read(journal, lambda j: j.events(last=1, kind="alarm_condition_cleared")), 120,
                 "the healthy snapshots to clear the alarm condition")
        web = WebProcess(journal, tmp)
        yield {"agent": agent, "thread": thread, "journal": journal, "web": web, "tmp": tmp, "n": len(sources)}
    finally:
        agent.stop()
        thread.join(120)
        replay.close()
        if web is not None:
            web.stop()


def test_page_shows_the_journal_and_acknowledge_clears_the_latch(live, tmp_path):
    agent, journal, web = live["agent"], live["journal"], live["web"]
    rows = journal_read(journal, lambda j: j.snapshots())
    assert len(rows) == live["n"]
    assert rows[-1]["state"] == "alarm" and agent.alarm.latched and not agent.alarm.condition
    periods = alarm_runs(rows)
    assert periods >= 1
    driver = chromium(*LAPTOP)
    try:
        driver.get(web.url + "/")
        wait_page(driver, lambda d: d.find_element("id", "state-card").get_attribute("data-state") == "alarm", 120,
                  "the page to show the alarm")
        assert page_text(driver, "state-word").startswith("ALARM")
        assert "latched since" in page_text(driver, "state-since")
        # the last error on the page is the journal's, to the digit
        shown = float(driver.find_element("id", "last-error").get_attribute("data-error"))
        assert shown == rows[-1]["error"]
        assert f"{rows[-1]['error']:.4g}"[:5] in page_text(driver, "last-error")
        # the XSS device id is text on the page and never ran
        assert page_text(driver, "device") == XSS
        assert driver.execute_script("return document.scripts.length") == 1
        assert driver.execute_script("return window.__xss === undefined")
        from selenium.common.exceptions import NoAlertPresentException

        with pytest.raises(NoAlertPresentException):
            driver.switch_to.alert.text  # noqa: B018 (reading it is the check)
        # alarm periods: 'all' shows every snapshot journaled
        driver.find_element("css selector", ".ranges button[data-range='all']").click()
        wait_page(driver, lambda d: f"{live['n']} snapshots" in page_text(d, "timeline-summary"), 120,
                  "the 'all' range")
        svg = driver.find_element("css selector", "#chart-error svg")
        assert int(svg.get_attribute("data-alarm-periods")) == periods
        assert len(driver.find_elements("css selector", "#chart-error rect.alarm-period")) == periods
        assert driver.find_elements("css selector", "#chart-error .event-mark")  # events are marked
        assert "3 snapshots in a row over the threshold raise the alarm" in page_text(driver, "debounce")
        assert "moved most from its healthy level" in page_text(driver, "driver")
        check_vibration_card(driver, journal)
        shoot(driver, tmp_path / "status_page_laptop.png", *LAPTOP)
        # switch to 24 h: the range ends at the newest snapshot, so it holds fewer rows
        driver.find_element("css selector", ".ranges button[data-range='24h']").click()
        wait_page(driver, lambda d: "active" in d.find_element("css selector", ".ranges button[data-range='24h']")
                  .get_attribute("class"), 120, "the 24 h range")
        newest = rows[-1]["time"]
        in_day = sum(1 for r in rows if r["time"] >= newest - 86400)
        wait_page(driver, lambda d: f"{in_day} snapshots" in page_text(d, "timeline-summary"), 120,
                  f"{in_day} snapshots in the 24 h range")
        # acknowledge from the page: the agent's latch clears, journaled with source web (waited for
        # generously: how fast it clears is a figure for a benchmark, not for a test on a loaded machine)
        button = driver.find_element("id", "ack")
        assert button.is_displayed()
        button.click()
        wait_for(lambda: not agent.alarm.latched, 60, "the agent's latch to clear after the page's acknowledgement")
        # the agent journals the events after it changed its state (queued writes): wait for them too
        wait_for(lambda: journal_read(journal, lambda j: j.events(last=1, kind="alarm_cleared")), 60,
                 "the acknowledgement and the clear to be journaled")
        acked = journal_read(journal, lambda j: j.events(last=5, kind="alarm_acknowledged"))
        assert acked and acked[-1]["detail"] == "by web 127.0.0.1"
        wait_page(driver, lambda d: d.find_element("id", "state-card").get_attribute("data-state") == "normal", 120,
                  "the page to show normal after the acknowledgement")
        assert not driver.find_element("id", "ack").is_displayed()
    finally:
        driver.quit()


def check_vibration_card(driver, journal: Path) -> None:
    """Issue 24 #5: the velocity with its ISO zone, and the physics diagnosis of the alarm with its envelope
    spectrum against the baseline, defect frequencies marked and the named lines circled, as journaled."""
    physics, velocity = journal_read(journal, lambda j: (j.get_state("physics"), j.get_state("vibration")))
    assert physics["part"] == "outer_race" and physics["channel"] == "Bearing 1"  # the real failure, named
    wait_page(driver, lambda d: d.find_element("id", "physics").get_attribute("data-part") == "outer_race", 120,
              "the physics diagnosis on the page")
    text = page_text(driver, "physics")
    assert text.startswith(f"Physics diagnosis ({physics['level']} snapshot of ") and "outer race" in text
    assert f"confidence {physics['confidence']:.2f}" in text and "dB over baseline" in text
    wait_page(driver, lambda d: d.find_elements("css selector", "#chart-spectrum svg"), 120, "the envelope spectrum")
    svg = driver.find_element("css selector", "#chart-spectrum svg")
    assert svg.get_attribute("data-part") == "outer_race" and svg.get_attribute("data-channel") == "Bearing 1"
    for line in ("spectrum-line", "baseline-line"):  # the snapshot's and the baseline's, hundreds of points each
        points = driver.find_element("css selector", f"#chart-spectrum polyline.{line}").get_attribute("points")
        assert len(points.split()) > 500
    marks = driver.find_elements("css selector", "#chart-spectrum line.defect-mark")
    assert len(marks) == 12  # 4 parts x 3 harmonics, all under the highest frequency read
    assert len(driver.find_elements("css selector", "#chart-spectrum circle.named-line.part-outer_race")) >= 2
    rows = driver.find_elements("css selector", "#velocity tr")
    assert [r.get_attribute("data-zone") for r in rows] == velocity["zones"]
    assert rows[0].text.startswith(f"Bearing 1 {velocity['mm_s'][0]:.2f} mm/s {velocity['zones'][0]}")
    assert "group 2 (medium machines, 15 - 300 kW), rigid foundation" in page_text(driver, "velocity-class")
    # the autoencoder's "which channel" stays on the state card, labelled as such
    assert page_text(driver, "diagnosis").startswith(("Diagnosis (autoencoder", "Last diagnosis (autoencoder"))


def test_phone_width_screenshot_and_the_agent_stopped(live, tmp_path):
    agent, web = live["agent"], live["web"]
    driver = chromium(*PHONE)
    try:
        driver.get(web.url + "/")
        wait_page(driver, lambda d: d.find_element("id", "state-card").get_attribute("data-state") != "unknown", 120,
                  "the page to load")
        wait_page(driver, lambda d: d.find_elements("css selector", "#chart-error svg"), 120, "the timeline")
        # nothing wider than the phone: no sideways scrolling
        assert driver.execute_script("return document.documentElement.scrollWidth") <= PHONE[0]
        shoot(driver, tmp_path / "status_page_phone.png", *PHONE)
        agent.stop()
        live["thread"].join(120)
        wait_page(driver, lambda d: "NOT running" in page_text(d, "agent-pill"), 120, "the page to see the agent stop")
        assert "stopped" in page_text(driver, "stopped-note") and "systemctl start" in page_text(driver, "stopped-note")
    finally:
        driver.quit()


def test_page_before_the_journal_exists_says_what_to_start(tmp_path):
    require_executable("chromium", "chromium")
    journal = tmp_path / "not-yet" / "journal.sqlite"
    web = WebProcess(journal, tmp_path)
    driver = chromium(*LAPTOP)
    try:
        driver.get(web.url + "/")
        wait_page(driver, lambda d: d.find_element("id", "missing").is_displayed(), 120, "the no-journal notice")
        assert "start the agent" in page_text(driver, "missing-hint")
        assert str(journal) in page_text(driver, "missing-problem")
    finally:
        driver.quit()
        web.stop()
    assert not journal.exists() and not journal.parent.exists()  # the page never creates it


def test_token_and_origin_are_checked_by_the_real_process(live):
    """With a token configured (what any non-loopback address requires), nothing answers without it."""
    token = "t0ken-for-the-test-" + os.urandom(6).hex()
    web = WebProcess(live["journal"], live["tmp"], token=token)
    try:
        def post(headers: dict) -> int:
            req = urllib.request.Request(web.url + "/api/ack", data=b"{}", method="POST", headers=headers)
            try:
                with urllib.request.urlopen(req, timeout=5) as r:
                    return r.status
            except urllib.error.HTTPError as exc:
                return exc.code

        before = journal_read(live["journal"], lambda j: j.db.execute("SELECT COUNT(*) FROM requests").fetchone()[0])
        origin = {"Origin": web.url}
        assert post(origin) == 403  # no token
        assert post({**origin, "Authorization": "Bearer wrong-token-wrong-token"}) == 403
        assert post({"Authorization": f"Bearer {token}", "Origin": "http://evil.example"}) == 403  # cross-origin
        assert post({"Authorization": f"Bearer {token}"}) == 403  # no Origin at all
        after = journal_read(live["journal"], lambda j: j.db.execute("SELECT COUNT(*) FROM requests").fetchone()[0])
        assert after == before  # nothing refused was written
        assert post({**origin, "Authorization": f"Bearer {token}"}) == 202
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(web.url + "/api/status", timeout=5)
        assert refused.value.code == 403
        with urllib.request.urlopen(urllib.request.Request(web.url + "/api/status",
                                    headers={"Authorization": f"Bearer {token}"}), timeout=5) as r:
            assert json.loads(r.read())["journal"]["ok"] is True
    finally:
        web.stop()


def set_viewport(driver, width: int, height: int) -> None:
    """The page's viewport, exactly (headless Chromium's window is at least 500 px wide: a phone is narrower)."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})


def shoot(driver, path: Path, width: int, height: int) -> None:
    """A full-page screenshot at this width (the viewport grows to the page's height)."""
    set_viewport(driver, width, height)
    time.sleep(0.5)  # the charts redraw on resize after 200 ms
    full = driver.execute_script("return document.documentElement.scrollHeight")
    set_viewport(driver, width, min(full, 6000))
    time.sleep(0.8)
    assert driver.save_screenshot(str(path)), f"Chromium could not write the screenshot {path}"
    set_viewport(driver, width, height)
