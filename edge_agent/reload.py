"""Hot reload: a new bundle loaded beside the running one, checked, and swapped between two snapshots.

``systemctl reload`` (SIGHUP) only sets a flag (:meth:`BundleReloader.request`).
The loop then starts the load in a helper thread, because verifying a bundle
and building its interpreter takes a while and the serial stream must keep
being read. When the thread is done, the loop (:meth:`BundleReloader.poll`,
between two snapshots) checks the candidate against the live stream, or the
last one seen while the device is away; the agent swaps it in only if it
passes. Whatever fails, the old bundle keeps scoring: no sample is lost, no
snapshot is scored twice or by a half-loaded bundle.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from edge_agent.config import AgentSection

if TYPE_CHECKING:
    from edge_agent.features.spec import FeatureSpec
    from edge_agent.journal import AgentJournal
    from edge_agent.scoring.bundle import Bundle
    from edge_agent.scoring.scorer import SnapshotScorer

log = logging.getLogger("edge_agent")


@dataclass
class LoadedBundle:
    """A bundle and its scorer, verified, ready to score (or to swap in)."""

    bundle: Bundle
    scorer: SnapshotScorer


def load_scorer(agent: AgentSection, version_floor: int | None = None, path: str | Path | None = None) -> LoadedBundle:
    """Load and verify ``[agent] bundle`` (or ``path``: a deploy's slot) and build its scorer (raises BundleError /
    RuntimeUnavailable).

    The model is probed in a child process first (``probe=True``): a bundle whose model crashes the
    runtime is refused like any bad bundle, at a reload (the old bundle keeps scoring) and at the start
    (the agent exits with the reason instead of dying by SIGSEGV, so systemd does not loop into it).
    """
    from edge_agent.scoring.bundle import load_bundle
    from edge_agent.scoring.scorer import SnapshotScorer

    # the keys are read at every load (a key added or removed takes effect at the next reload), in the child
    # process that checks the signature: the agent does not import the signature library (4.7 MiB)
    bundle = load_bundle(path or agent.bundle, agent.variant or None, agent.runtime, probe=True,
                         trusted_keys=agent.trusted_keys or None, version_floor=version_floor,
                         allow_downgrade=agent.allow_downgrade)
    return LoadedBundle(bundle, SnapshotScorer(bundle, agent.runtime))


def signed_version(loaded: LoadedBundle | None) -> int | None:
    """The bundle_version of a bundle loaded with trusted keys (the floor for the next one), else None."""
    if loaded is None or loaded.bundle.signed_by is None:
        return None
    return loaded.bundle.manifest.get("bundle_version")


def check_start_version(loaded: LoadedBundle | None, journal: "AgentJournal", agent: AgentSection) -> int | None:
    """At start: refuse a signed bundle older than the one this journal ran last (a downgrade by restart), unless
    allowed; then remember its version and return it (the floor for the next reload). Raises BundleError."""
    from edge_agent.scoring.signing import SignatureError, check_version

    version = signed_version(loaded)
    if version is None:
        return None
    last = journal.get_state("bundle_version")
    try:
        check_version(loaded.bundle.manifest, last if isinstance(last, int) else None,
                      agent.allow_downgrade, str(agent.bundle))
    except SignatureError as exc:
        from edge_agent.scoring.bundle import BundleError

        raise BundleError(str(exc)) from exc
    journal.set_state(bundle_version=version)
    return version


@dataclass(frozen=True)
class ReloadResult:
    """A finished reload: the bundle to swap in, or why it was refused (exactly one is set)."""

    loaded: LoadedBundle | None
    problem: str | None
    #: where it was loaded from: ``[agent] bundle``, or the folder of :meth:`BundleReloader.request_from`
    path: str = ""
    #: loaded for :meth:`BundleReloader.request_from` (a deploy or a rollback), not for a SIGHUP
    requested_path: bool = False


class BundleReloader:
    """Loads ``[agent] bundle`` (or a deploy's folder) in a helper thread on request; the loop collects the result."""

    def __init__(self, agent: AgentSection) -> None:
        self.agent = agent
        self._requested = threading.Event()
        self._loader: threading.Thread | None = None
        self._candidate: LoadedBundle | Exception | None = None
        self._from: tuple[str, bool] | None = None  # request_from's (path, floor), until its load starts
        self._loading: tuple[str, bool] | None = None  # what the loader thread loads: (path, from request_from)
        #: the running signed bundle's version: a reload to an older one is a downgrade (None: no floor)
        self.version_floor: int | None = None

    def request(self) -> None:
        """Reload at the loop's next turn (safe from a signal handler or another thread)."""
        self._requested.set()

    def request_from(self, path: str | Path, *, floor: bool = True) -> None:
        """Load ``path`` instead (a deploy's slot; the loop's own thread), before any SIGHUP reload. Without
        ``floor`` an older signed bundle is accepted: a rollback by hand is a deliberate downgrade."""
        self._from = (str(path), floor)

    def poll(self, check: Callable[[FeatureSpec], str | None] | None, *,
             learning: bool = False) -> ReloadResult | None:
        """Start a requested load; return a finished one, else None. ``check(spec)`` says why a bundle of that
        spec could not score the live stream (the sensor board's ``bundle_problem``: channels, rate, and the
        burst length stated by the device or seen in its sample index), or None; no check before any stream."""
        if self._loader is None and (self._from is not None or self._requested.is_set()):
            if self._from is not None:
                (path, floor), self._from = self._from, None
                self._loading = (path, True)
            else:
                self._requested.clear()
                path, floor = str(self.agent.bundle), True
                self._loading = (path, False)
            log.info("loading bundle %s%s", path, " (learning mode: scoring starts if it is valid)" if learning else "")
            self._loader = threading.Thread(target=self._load, args=(self._loading[0] if self._loading[1] else None,
                                                                     self.version_floor if floor else None),
                                            name="bundle-loader", daemon=True)
            self._loader.start()
        if self._loader is None or self._loader.is_alive():
            return None
        self._loader = None
        (path, requested), self._loading = self._loading, None
        candidate, self._candidate = self._candidate, None
        if isinstance(candidate, Exception) or candidate is None:
            return ReloadResult(None, f"cannot load {path}: {candidate}", path, requested)
        problem = check(candidate.bundle.spec) if check is not None else None
        return ReloadResult(None if problem else candidate, problem, path, requested)

    def swapped_in(self, loaded: LoadedBundle, journal: "AgentJournal") -> None:
        """A bundle now runs: a signed one's version is the floor for the next reload and the next start."""
        if (version := signed_version(loaded)) is not None:
            self.version_floor = version
            journal.set_state(bundle_version=version)

    def _load(self, path: str | None, floor: int | None) -> None:
        try:
            self._candidate = load_scorer(self.agent, floor, path)
        except Exception as exc:  # any failure keeps the old bundle running
            self._candidate = exc


def check_on_disk(loaded: LoadedBundle | None, on_event: Callable[[str, str], None]) -> None:
    """Journal a change to the running bundle's files on disk, once per change (what runs is in memory: a copy
    over the live folder cannot change the scores, but a restart or reload would load it)."""
    watch = loaded.bundle.on_disk if loaded else None
    for news in watch.check() if watch is not None else ():
        log.warning("bundle on disk: %s", news)
        on_event("bundle_changed_on_disk", news)
