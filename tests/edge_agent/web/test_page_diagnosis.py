"""Issue 14 on the status page: the state card names the bearing and the defect, in a real headless Chromium.

The journal is written through the agent's own Journal API (``conftest.write_journal``) and then
given snapshots with a diagnosis, the way the agent journals them (``SnapshotRow.diagnosis``);
the page is the real server's, polled by the real page script.
"""
from __future__ import annotations

import time

from edge_agent.journal import SnapshotRow, format_time
from edge_agent.scoring.diagnosis import Diagnosis
from tests.e2e.test_status_page import chromium, page_text, wait_page
from tests.edge_agent.web.conftest import STEP, T0, THRESHOLD, served, write_journal


def add_row(journal, k: int, error: float, diagnosis: Diagnosis) -> None:
    over = error > THRESHOLD
    journal.record_snapshot(
        SnapshotRow(T0 + STEP * k, k * 20480, 1, [0.3, 0.07], error, THRESHOLD, over, over,
                    "alarm" if over else "normal", "b-1", 1.0, inference_s=0.0003, contributions=(0.9, 0.1),
                    diagnosis=diagnosis),
        state={"heartbeat": {**journal.get_state("heartbeat"), "time": time.time(),
                             "display": "alarm" if over else "normal"}})


def diagnosis_shown(driver) -> str:
    element = driver.find_element("id", "diagnosis")
    return element.text if element.is_displayed() else ""


def test_the_state_card_shows_the_diagnosis_when_there_is_one(tmp_path):
    path = tmp_path / "journal.sqlite"
    journal = write_journal(path)  # rows without a diagnosis: nothing shown
    driver = chromium(1280, 900)
    try:
        with served(path) as url:
            driver.get(url + "/")
            wait_page(driver, lambda d: d.find_element("id", "state-card").get_attribute("data-state") == "normal",
                      60, "the page to show the journal")
            assert diagnosis_shown(driver) == ""
            add_row(journal, 40, 5.0, Diagnosis("Bearing 1", 0.72, "bpfo"))
            wait_page(driver, lambda d: diagnosis_shown(d) == "Diagnosis (autoencoder: where its error is): bearing 1, outer race, "
                      "72 % of the error",
                      60, "the diagnosis of the last snapshot on the state card")
            assert driver.find_element("id", "diagnosis").get_attribute("data-current") == "true"
            assert page_text(driver, "state-word").startswith("ALARM")
            add_row(journal, 41, 0.1, Diagnosis("Bearing 2", 0.4))  # back under: the words stay, dated
            wait_page(driver, lambda d: diagnosis_shown(d).startswith(
                "Last diagnosis (autoencoder: where its error is): bearing 1, outer race, 72 %"),
                      60, "the earlier diagnosis, with its snapshot's time")
            assert f"snapshot of {format_time(T0 + STEP * 40)} UTC" in diagnosis_shown(driver)
    finally:
        driver.quit()
        journal.close()
