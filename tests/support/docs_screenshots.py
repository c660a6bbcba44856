"""The documentation's screenshots of the status page, from a clean, realistic run: one command.

    make screenshots      # = python -m tests.support.docs_screenshots --bundle demo-output/bundle --out docs/img

What runs is what a Pi runs, with a replayed sensor: ``bearing-replay``'s code streams 23 of the 25
bundled IMS test-2 snapshots (healthy start, middle, the failure of bearing 1; not the last two, taken
after the rig stopped) over a pty with the device id
``ims-test2``; ``bearing-agent run`` (its own process, mock GPIO pins) scores every snapshot with the
bundle ``make demo`` wrote; ``bearing-agent web`` serves the journal; headless Chromium takes the
laptop-width and phone-width pictures (``status_page_laptop.png``, ``status_page_phone.png``).

So the pictures show the paths a Pi shows (``/var/lib/bearing-agent/journal.sqlite``, not a test's
temporary folder), the run happens, when the script runs as root and ``unshare`` exists, in a private
mount namespace where ``/var/lib`` and ``/run`` are empty tmpfs: nothing is written to the host's.
Otherwise the same run happens in a temporary folder, and its paths show.

Not a test: a test must leave the checkout as it found it, and this writes into ``docs/img``. It
needs Chromium and chromedriver (``make test`` installs them as root) and selenium (the dev extra).
Re-run it after the page changes (a new panel): the pictures show what the page of this checkout shows.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NAMESPACE_FLAG = "BEARING_EDGE_SCREENSHOT_NAMESPACE"
DEVICE_ID = "ims-test2"


def in_private_namespace(argv: list[str]) -> int | None:
    """Re-run this script in a private mount namespace with empty /var/lib and /run; None when it cannot."""
    if os.environ.get(NAMESPACE_FLAG) or os.geteuid() != 0 or not shutil.which("unshare"):
        return None
    script = ("mount -t tmpfs tmpfs /var/lib && mount -t tmpfs tmpfs /run && "
              f'exec "{sys.executable}" -m tests.support.docs_screenshots "$@"')
    env = {**os.environ, NAMESPACE_FLAG: "1", "PYTHONPATH": str(ROOT)}
    return subprocess.call(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *argv],
                           env=env, cwd=ROOT)


def take(bundle: Path, out: Path) -> list[Path]:
    from edge_agent.journal import Journal
    from tests.agent_fixtures import ReplayThread, raw_test2_files, wait_for
    from tests.e2e.test_status_page import LAPTOP, PHONE, WebProcess, chromium, shoot, wait_page

    if os.environ.get(NAMESPACE_FLAG):
        home, link_dir = Path("/var/lib/bearing-agent"), Path("/run/bearing-replay")
    else:
        scratch = Path(tempfile.mkdtemp(prefix="bearing-edge-screenshots-"))
        home, link_dir = scratch / "var-lib-bearing-agent", scratch / "run-bearing-replay"
    home.mkdir(parents=True)
    link_dir.mkdir(parents=True)
    shutil.copytree(bundle, home / "bundle")
    journal, link, config = home / "journal.sqlite", link_dir / "accelerometer", home / "agent.toml"
    config.write_text(f'[agent]\nbundle = "{home / "bundle"}"\ninterval_s = 0.0\n'
                      f'[serial]\nport = "{link}"\n[journal]\npath = "{journal}"\n'
                      '[gpio]\npin_factory = "mock"\n[faults]\nno_data_timeout_s = 3600.0\n')
    # the last two files of test 2 are the rig after it stopped (data/ims/SOURCES.md): a page of a
    # failing machine shows it running
    files = raw_test2_files()[:-2]
    replay = ReplayThread(files, link, speed=0, device_id=DEVICE_ID).start()
    agent = subprocess.Popen([sys.executable, "-m", "edge_agent.cli.main", "run", "--config", str(config)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=home)
    web = None
    shots = []
    try:
        def scored() -> int:
            if agent.poll() is not None:
                raise SystemExit(f"bearing-agent run exited with {agent.returncode}")
            if not journal.exists():
                return 0
            j = Journal(journal, create=False)
            try:
                return len(j.snapshots())
            finally:
                j.close()

        wait_for(lambda: scored() == len(files), 300, f"the agent to journal the {len(files)} replayed snapshots")
        web = WebProcess(journal, home)
        out.mkdir(parents=True, exist_ok=True)
        for name, size in (("status_page_laptop.png", LAPTOP), ("status_page_phone.png", PHONE)):
            driver = chromium(*size)
            try:
                driver.get(web.url + "/")
                wait_page(driver, lambda d: d.find_element("id", "state-card").get_attribute("data-state")
                          not in (None, "", "unknown"), 120, "the page to load")
                driver.find_element("css selector", ".ranges button[data-range='all']").click()
                wait_page(driver, lambda d: f"{len(files)} snapshots" in d.find_element("id", "timeline-summary").text,
                          120, "the 'all' range")
                time.sleep(1.0)  # the per-channel charts draw after the timeline
                shoot(driver, out / name, *size)
                shots.append(out / name)
            finally:
                driver.quit()
    finally:
        if web is not None:
            web.stop()
        agent.terminate()
        agent.wait(60)
        replay.close()
    return shots


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    from firmware_io.cli_support import help_text

    p = argparse.ArgumentParser(prog="python -m tests.support.docs_screenshots",
                                description=help_text(__doc__.splitlines()[0]))
    p.add_argument("--bundle", type=Path, default=ROOT / "demo-output" / "bundle",
                   help="the bundle to score with (default demo-output/bundle: run 'make demo' first)")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "img", help="where the PNGs go (default docs/img)")
    args = p.parse_args(argv)
    bundle, out = args.bundle.resolve(), args.out.resolve()
    if not (bundle / "manifest.json").is_file():
        p.error(f"{bundle}: no bundle there; run 'make demo' first, or pass --bundle")
    code = in_private_namespace(["--bundle", str(bundle), "--out", str(out)])
    if code is not None:
        return code
    for shot in take(bundle, out):
        print(f"wrote {shot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
