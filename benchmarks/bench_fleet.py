"""A fleet on one broker: 10 agents, each with its own replay, journal, publisher and node id, on one Mosquitto.

Each node is ``bearing-replay --speed 1`` (the 25 bundled IMS test-2
snapshots, looping, in real time) -> ``bearing-agent run --interval 0`` ->
its journal -> ``bearing-agent publish`` -> one local Mosquitto (the tests'
broker set-up, password file, QoS 1). One more agent runs without a
publisher and with ``[mqtt]`` off, for the memory comparison. Measured over
the window: the CPU share (% of one core) of the broker, each agent, each
publisher; peak RSS (VmHWM) of the agents with MQTT on and off and of the
publishers. After the window the agents stop and a subscriber must have
every journal row of every node (seq sets equal).

Run: ``python -m benchmarks.bench_fleet`` (``--quick``: 15 s window instead of 40 s; ``--nodes N``).
Set ``BEARING_EDGE_BENCH_BUNDLE`` to use an existing bundle; otherwise one is trained briefly first.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from benchmarks.bench_agent import _bundle, _byte_compile, _replay, _snapshot_rows, _stop, _wait
from benchmarks.harness import BenchResult
from benchmarks.mosquitto import Mosquitto, Subscriber
from firmware_io.recordings import ims as datasets

REPO = datasets.REPO_ROOT
GOAL_EXTRA_RSS_MIB = 8.0


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def _cpu_s(p: psutil.Process) -> float:
    t = p.cpu_times()
    return t.user + t.system


def _write_config(path: Path, link: Path, bundle: Path, journal: Path, mqtt: dict | None) -> None:
    text = (f'[agent]\nbundle = "{bundle}"\ninterval_s = 0.0\n[serial]\nport = "{link}"\n'
            f'[gpio]\npin_factory = "mock"\n[journal]\npath = "{journal}"\n')
    if mqtt:
        text += "[mqtt]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in mqtt.items())
    path.write_text(text)


def run(quick: bool = False, nodes: int = 10) -> BenchResult:
    window = 15.0 if quick else 40.0
    procs: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp_name:
        tmp = Path(tmp_name)
        bundle = _bundle(tmp, quick)
        _byte_compile()
        broker = Mosquitto(tmp / "broker").start()
        sub = Subscriber(broker, ["bearing-edge/+/snapshot"], client_id="bench-fleet")
        names = [f"node-{k:02d}" for k in range(1, nodes + 1)] + ["node-off"]
        agents, publishers, journals = {}, {}, {}
        try:
            for name in names:
                folder = tmp / name
                folder.mkdir()
                link, journals[name] = folder / "tty", folder / "journal.sqlite"
                mqtt = None if name == "node-off" else broker.mqtt_section(name, poll_s=0.5)
                _write_config(folder / "agent.toml", link, bundle, journals[name], mqtt)
                procs.append(_replay(link))
                _wait(link.exists, 30)
                cmd = [sys.executable, "-m", "edge_agent.cli.main"]
                agents[name] = subprocess.Popen(cmd + ["run", "--config", str(folder / "agent.toml"), "--log-level",
                                                       "WARNING"], cwd=REPO)
                procs.append(agents[name])
                if mqtt:
                    publishers[name] = subprocess.Popen(cmd + ["publish", "--config", str(folder / "agent.toml"),
                                                               "--log-level", "WARNING"], cwd=REPO)
                    procs.append(publishers[name])
            if not _wait(lambda: all(len(_snapshot_rows(journals[n])) >= 2 for n in names), 120):
                raise RuntimeError("not every agent journaled a snapshot within 120 s")
            watched = {"broker": broker.proc.pid, **{f"agent {n}": p.pid for n, p in agents.items()},
                       **{f"publisher {n}": p.pid for n, p in publishers.items()}}
            ps = {k: psutil.Process(pid) for k, pid in watched.items()}
            c0, t0 = {k: _cpu_s(p) for k, p in ps.items()}, time.monotonic()
            time.sleep(window)
            c1, t1 = {k: _cpu_s(p) for k, p in ps.items()}, time.monotonic()
            cpu = {k: 100.0 * (c1[k] - c0[k]) / (t1 - t0) for k in ps}
            rss = {k: _peak_rss_mib(pid) for k, pid in watched.items()}
            for name in names:
                _stop(agents[name])
            expected = {n: {r["id"] for r in _snapshot_rows(journals[n])} for n in publishers}

            def arrived() -> dict[str, set[int]]:
                with sub.lock:
                    out: dict[str, set[int]] = {n: set() for n in publishers}
                    for m in sub.messages:
                        out[m.topic.split("/")[1]].add(json.loads(m.payload)["seq"])
                return out

            t_drain = time.monotonic()
            complete = _wait(lambda: all(arrived()[n] >= expected[n] for n in publishers), 60)
            drain_s = time.monotonic() - t_drain
            got = arrived()
        finally:
            for p in procs:
                if p.poll() is None:
                    _stop(p)
            sub.close()
            broker.stop()
    on = [rss[f"agent {n}"] for n in publishers]
    pub_rss = [rss[f"publisher {n}"] for n in publishers]
    agent_cpu = [cpu[f"agent {n}"] for n in publishers]
    pub_cpu = [cpu[f"publisher {n}"] for n in publishers]
    rows_total = sum(len(v) for v in expected.values())
    figures = {
        "nodes": nodes, "window_s": t1 - t0, "rows_journaled": rows_total,
        "rows_arrived": sum(len(got[n] & expected[n]) for n in publishers), "all_arrived": complete,
        "drain_s": drain_s, "broker_cpu_pct": cpu["broker"],
        "agent_cpu_pct_median": statistics.median(agent_cpu), "agent_cpu_pct_max": max(agent_cpu),
        "agent_off_cpu_pct": cpu["agent node-off"],
        "publisher_cpu_pct_median": statistics.median(pub_cpu), "publisher_cpu_pct_max": max(pub_cpu),
        "agent_peak_rss_mib_mqtt_on_median": statistics.median(on), "agent_peak_rss_mib_mqtt_off": rss["agent node-off"],
        "publisher_peak_rss_mib_median": statistics.median(pub_rss), "publisher_peak_rss_mib_max": max(pub_rss),
        "broker_peak_rss_mib": rss["broker"], "per_process_cpu_pct": {k: round(v, 2) for k, v in cpu.items()},
    }
    f = figures
    extra = f["agent_peak_rss_mib_mqtt_on_median"] - f["agent_peak_rss_mib_mqtt_off"]
    markdown = "\n".join([
        f"{nodes} nodes (replay -> agent `--interval 0` -> journal -> `bearing-agent publish` -> one Mosquitto, "
        f"QoS 1) plus one agent with `[mqtt]` off; window {f['window_s']:.0f} s, everything on this machine.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| rows journaled / arrived at a subscriber (all nodes) | {f['rows_journaled']} / {f['rows_arrived']} "
        f"({'all' if complete else 'NOT all'}; last arrived {drain_s:.1f} s after the agents stopped) |",
        f"| broker CPU, % of one core | {f['broker_cpu_pct']:.2f} % |",
        f"| agent CPU, median / max of {nodes} | {f['agent_cpu_pct_median']:.2f} / {f['agent_cpu_pct_max']:.2f} % "
        f"(the agent without MQTT: {f['agent_off_cpu_pct']:.2f} %) |",
        f"| publisher CPU, median / max | {f['publisher_cpu_pct_median']:.2f} / {f['publisher_cpu_pct_max']:.2f} % |",
        f"| agent peak RSS, MQTT on (median) / off | {f['agent_peak_rss_mib_mqtt_on_median']:.1f} / "
        f"{f['agent_peak_rss_mib_mqtt_off']:.1f} MiB ({extra:+.1f} MiB; goal <= +{GOAL_EXTRA_RSS_MIB:g}) |",
        f"| publisher peak RSS, median / max (a process of its own) | {f['publisher_peak_rss_mib_median']:.1f} / "
        f"{f['publisher_peak_rss_mib_max']:.1f} MiB |",
        f"| broker peak RSS | {f['broker_peak_rss_mib']:.1f} MiB |",
        "",
        "The agent does not publish: with MQTT on it runs the same code, so its memory and CPU do not change; "
        "the cost of telemetry is the publisher process beside it (and the broker).",
    ])
    return BenchResult("fleet", "A fleet on one MQTT broker: delivery, CPU share and memory", figures, markdown,
                       {f"agent with MQTT <= +{GOAL_EXTRA_RSS_MIB:g} MiB": extra <= GOAL_EXTRA_RSS_MIB})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="15 s window instead of 40 s")
    parser.add_argument("--nodes", type=int, default=10)
    args = parser.parse_args()
    print(run(args.quick, args.nodes).markdown)


if __name__ == "__main__":
    main()
