"""Hot reload: loaded in a helper thread, checked against the live stream, refused with the reason."""
from __future__ import annotations

from types import SimpleNamespace

from edge_agent import reload
from edge_agent.config import AgentSection
from edge_agent.features.spec import FeatureSpec
from edge_agent.stream.sensor_board import spec_mismatch
from firmware_io.protocol.frames import StreamInfo
from tests.agent_fixtures import wait_for

STREAM = StreamInfo("pump-7", "fw", 20000, 4, scale=0.001)


def against(stream):
    """The check a sensor board gives the reloader: why a bundle of ``spec`` could not score ``stream``."""
    return None if stream is None else (lambda spec: spec_mismatch(spec, stream))


def finished(reloader, stream=STREAM):
    results = []
    wait_for(lambda: results.append(reloader.poll(against(stream))) or results[-1] is not None, 120, "the load")
    return results[-1]


def test_nothing_happens_until_requested_and_a_broken_bundle_is_refused(tmp_path):
    reloader = reload.BundleReloader(AgentSection(bundle=str(tmp_path / "missing")))
    assert reloader.poll(against(STREAM)) is None
    reloader.request()
    result = finished(reloader)
    assert result.loaded is None and result.problem.startswith(f"cannot load {tmp_path / 'missing'}: ")
    assert reloader.poll(against(STREAM)) is None  # one result per request


def test_a_bundle_for_another_stream_is_refused_and_a_matching_one_handed_over(monkeypatch):
    specs = iter([FeatureSpec(tuple(f"b{i}" for i in range(8))), FeatureSpec(("a", "b", "c", "d"))])
    monkeypatch.setattr(reload, "load_scorer", lambda agent, version_floor=None, path=None: reload.LoadedBundle(
        SimpleNamespace(spec=next(specs)), scorer=None))
    reloader = reload.BundleReloader(AgentSection())
    reloader.request()
    refused = finished(reloader)
    assert refused.loaded is None and "4 channels, the bundle expects 8" in refused.problem
    reloader.request()
    accepted = finished(reloader, stream=None)  # no stream seen yet: nothing to check against
    assert accepted.problem is None and accepted.loaded.bundle.spec.channel_names == ("a", "b", "c", "d")
