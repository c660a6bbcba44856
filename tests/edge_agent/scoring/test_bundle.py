"""The bundle loader refuses every bad bundle with a message that says what is wrong."""
from __future__ import annotations

import importlib.util
import io
import json
import math
import re
import tarfile
import tempfile
from pathlib import Path

import pytest

from edge_agent.scoring.bundle import BundleError, load_bundle


def test_good_bundle_loads_from_dir_and_archive(bundle_dir):
    from_dir = load_bundle(bundle_dir)
    from_tar = load_bundle(bundle_dir.with_name(bundle_dir.name + ".tar.gz"))
    assert from_dir.bundle_id == from_tar.bundle_id
    assert from_dir.variant == from_dir.manifest["default_variant"]
    assert from_dir.spec.sample_rate_hz == 20_000 and from_dir.spec.samples_per_snapshot == 20_480
    assert from_dir.threshold > 0 and from_dir.debounce >= 1


def test_bundle_written_today_is_schema_2_mean_abs_and_loads(bundle_dir):
    """What deployed agents read: the 'feature' key, one feature per channel, names unchanged; schema 2 since
    issue 22 (the id covers the whole manifest)."""
    bundle = load_bundle(bundle_dir)
    assert bundle.manifest["schema_version"] == 2
    assert bundle.manifest["feature_spec"]["feature"] == "mean_abs" and "features" not in bundle.manifest["feature_spec"]
    assert bundle.spec.features == ("mean_abs",)
    names = ("Bearing 1", "Bearing 2", "Bearing 3", "Bearing 4")
    assert bundle.spec.feature_names == bundle.scaler.feature_names == names
    assert tuple(bundle.runner.input_shape) == (1, 1, bundle.spec.n_features) == (1, 1, 4)


# --- issue 22 #2: the bundle id names the content; a doctored bundle is refused, old bundles keep their ids ---

def _rehash_files_only(bundle):
    """What a doctor does: the checksums fixed up after an edit, the genuine bundle's id kept."""
    from edge_agent.scoring.bundle import sha256_file

    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["files"] = {name: sha256_file(bundle / name) for name in manifest["files"]}
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    return manifest


@pytest.mark.parametrize("doctor", ["model replaced", "threshold raised", "variant threshold raised"])
def test_a_bundle_whose_id_does_not_name_its_content_is_refused(copy, doctor):
    genuine = json.loads((copy / "manifest.json").read_text())["bundle_id"]
    if doctor == "model replaced":
        (copy / "model_float16.tflite").write_bytes((copy / "model_float32.tflite").read_bytes())
        _rehash_files_only(copy)
    else:
        manifest = json.loads((copy / "manifest.json").read_text())
        if doctor == "threshold raised":
            manifest["threshold"]["value"] *= 2
        else:
            manifest["variants"]["float16"]["threshold"] *= 2
        (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match=rf"manifest\.json: bundle_id '{genuine}' does not name this bundle's "
                                          r"content \(its files and settings give [0-9a-f]{16}\): the manifest or a "
                                          r"file was changed after bearing-convert wrote it"):
        load_bundle(copy, variant="float16")


def test_schema_1_bundles_keep_loading_under_the_id_their_converter_gave_them(copy):
    """Bundles converted before issue 22: schema 1, the id by one of the two recipes bearing-convert used
    (the files table; then also the threshold, spec and default variant). A doctored one is refused."""
    import hashlib

    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["schema_version"] = 1
    for key in [k for k in manifest if k not in SCHEMA_1_KEYS]:
        del manifest[key]
    identity = {k: manifest[k] for k in ("files", "threshold", "feature_spec", "default_variant")}
    recipes = {"files": hashlib.sha256(json.dumps(manifest["files"], sort_keys=True).encode()).hexdigest()[:16],
               "files+settings": hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]}
    for recipe, bundle_id in recipes.items():
        (copy / "manifest.json").write_text(json.dumps(manifest | {"bundle_id": bundle_id}))
        assert load_bundle(copy).bundle_id == bundle_id, recipe
    (copy / "model_float16.tflite").write_bytes((copy / "model_float32.tflite").read_bytes())
    _rehash_files_only(copy)
    with pytest.raises(BundleError, match=rf"bundle_id '{bundle_id}' does not name this bundle's content"):
        load_bundle(copy)


#: the keys a schema-1 manifest had (bearing-convert before issue 22)
SCHEMA_1_KEYS = ("schema_version", "bundle_id", "created_utc", "default_variant", "feature_spec", "threshold",
                 "scaler", "variants", "training_data", "versions", "files", "force", "parity_summary")


def test_refuses_scaler_whose_features_differ_from_the_spec(copy, resign):
    scaler = json.loads((copy / "scaler.json").read_text())
    scaler["feature_names"] = scaler["feature_names"][::-1]
    (copy / "scaler.json").write_text(json.dumps(scaler))
    resign(copy)
    with pytest.raises(BundleError, match=r"scaler features \['Bearing 4', .*\] differ from the feature spec's "
                                          r"\['Bearing 1', .*\] \(same names, same order\)"):
        load_bundle(copy)


def test_refuses_missing_model_file(copy):
    (copy / "model_int8.tflite").unlink()
    with pytest.raises(BundleError, match=r"missing file model_int8\.tflite \(listed in manifest\.json\)"):
        load_bundle(copy)


def test_refuses_checksum_mismatch(copy):
    with open(copy / "model_float32.tflite", "r+b") as fh:
        fh.seek(200)
        byte = fh.read(1)
        fh.seek(200)
        fh.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(BundleError, match=r"model_float32\.tflite: checksum mismatch: sha256 is [0-9a-f]{64}, "
                                          r"manifest says [0-9a-f]{64}"):
        load_bundle(copy, variant="float32")


@pytest.mark.parametrize("edit, message", [
    (lambda s: s["data_max"].__setitem__(2, math.nan), r"scaler data_max is not finite \(NaN or inf\) for \['Bearing 3'\]"),
    (lambda s: s["data_max"].__setitem__(0, s["data_min"][0]), r"zero range .* for \['Bearing 1'\]"),
])
def test_refuses_nan_or_zero_range_scaler(copy, edit, message, resign):
    scaler = json.loads((copy / "scaler.json").read_text())
    edit(scaler)
    (copy / "scaler.json").write_text(json.dumps(scaler, allow_nan=True))
    resign(copy)  # checksums fixed up, so the scaler check itself is what refuses
    with pytest.raises(BundleError, match=r"scaler\.json: unusable scaler: (scaler has )?" + message):
        load_bundle(copy)


def test_refuses_model_shape_that_disagrees_with_feature_spec(copy, resign):
    resign(copy, lambda m: m["feature_spec"].__setitem__("timesteps", 7))
    with pytest.raises(BundleError, match=r"model input shape \[1, 1, 4\] disagrees with the feature spec "
                                          r"\(1 window x 7 timesteps x 4 features = \[1, 7, 4\]\)"):
        load_bundle(copy)


def test_refuses_unknown_schema_version(copy, resign):
    resign(copy, lambda m: m.__setitem__("schema_version", 99))
    with pytest.raises(BundleError, match=r"unknown schema_version 99; this edge_agent reads \[1, 2\]"):
        load_bundle(copy)


def test_refuses_runtime_the_variant_is_not_known_to_run_on(copy, resign):
    resign(copy, lambda m: m["variants"]["int8"].__setitem__("runtimes", ["ai-edge-litert"]))
    with pytest.raises(BundleError, match=r"variant 'int8' is not known to run on 'tflite-runtime' "
                                          r"\(manifest lists \['ai-edge-litert'\]\)"):
        load_bundle(copy, variant="int8", runtime="tflite-runtime")
    if importlib.util.find_spec("ai_edge_litert") is not None:
        assert load_bundle(copy, variant="int8").runtime == "ai-edge-litert"
    else:  # a 32-bit Pi: tflite-runtime only, and the refusal says how to get a bundle that runs there
        with pytest.raises(BundleError, match=r"variant 'int8' needs one of \['ai-edge-litert'\]: .* reconvert it"):
            load_bundle(copy, variant="int8")


def test_litert_only_variant_on_a_tflite_runtime_only_device_says_how_to_reconvert(copy, monkeypatch, resign):
    from edge_agent.scoring import runtime

    real = runtime._import_interpreter

    def tflite_runtime_only(name):
        if name == "ai-edge-litert":
            raise runtime.RuntimeUnavailable("runtime 'ai-edge-litert' is not installed")
        try:  # the real tflite-runtime where it is installed (a 32-bit Pi: it has no ai-edge-litert) ...
            return real("tflite-runtime")
        except runtime.RuntimeUnavailable:  # ... else ai-edge-litert stands in: the refusal comes before any interpreter
            return real("ai-edge-litert")

    monkeypatch.setattr(runtime, "_import_interpreter", tflite_runtime_only)
    resign(copy, lambda m: m["variants"]["int8"].__setitem__("runtimes", ["ai-edge-litert"]))
    with pytest.raises(BundleError) as refused:
        load_bundle(copy, variant="int8")
    message = str(refused.value)
    assert "variant 'int8' needs one of ['ai-edge-litert']: runtime 'ai-edge-litert' is not installed and this " \
           "machine has only tflite-runtime, but the model is verified on ['ai-edge-litert'] only: reconvert it" \
           in message
    assert "python -m convert.tflite_env" in message and "bearing-convert MODEL_DIR" in message
    assert "pip install ai-edge-litert" not in message


def test_refuses_unknown_variant_and_not_a_bundle(copy, tmp_path):
    with pytest.raises(BundleError, match=r"no variant 'int4' in this bundle; it has \["):
        load_bundle(copy, variant="int4")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BundleError, match=r"no manifest\.json; is this a bundle directory"):
        load_bundle(tmp_path / "empty")


def test_archive_with_unsafe_member_is_refused(tmp_path):
    evil = tmp_path / "evil.tar.gz"
    (tmp_path / "x").write_text("x")
    with tarfile.open(evil, "w:gz") as tar:
        tar.add(tmp_path / "x", arcname="../../escape")
    with pytest.raises(BundleError, match=r"evil\.tar\.gz: cannot unpack the bundle archive"):
        load_bundle(evil)


@pytest.fixture
def python_3_11_2(monkeypatch):
    """tarfile as on Debian 12's Python 3.11.2 (Raspberry Pi OS bookworm): no data filter, no filter= argument."""
    monkeypatch.delattr(tarfile, "data_filter", raising=False)  # (absent already on a real 3.11.2)
    real_extractall = tarfile.TarFile.extractall

    def extractall(self, path=".", members=None, *, numeric_owner=False, **kwargs):
        if kwargs:
            raise TypeError(f"TarFile.extractall() got an unexpected keyword argument {next(iter(kwargs))!r}")
        return real_extractall(self, path, members, numeric_owner=numeric_owner)

    monkeypatch.setattr(tarfile.TarFile, "extractall", extractall)


def test_archive_loads_on_python_3_11_2_without_the_data_filter(bundle_dir, python_3_11_2):
    from_dir = load_bundle(bundle_dir)
    from_tar = load_bundle(bundle_dir.with_name(bundle_dir.name + ".tar.gz"))
    assert from_tar.bundle_id == from_dir.bundle_id and from_tar.variant == from_dir.variant
    assert from_tar.manifest == from_dir.manifest
    assert from_tar.path != from_dir.path and (from_tar.path / "manifest.json").is_file()


def _member(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"x", linkname: str = "") -> tuple:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, io.BytesIO(data) if kind == tarfile.REGTYPE else None


#: case -> (the unsafe member, what the refusal names)
UNSAFE_MEMBERS = {
    "parent": (dict(name="../../escape"), r"'\.\./\.\./escape'"),
    "symlink": (dict(name="bundle/manifest.json", kind=tarfile.SYMTYPE, linkname="/etc/passwd"), r"manifest\.json"),
    "hardlink": (dict(name="bundle/model.tflite", kind=tarfile.LNKTYPE, linkname="/etc/passwd"), r"model\.tflite"),
    "device": (dict(name="bundle/dev", kind=tarfile.CHRTYPE), r"dev"),
    "fifo": (dict(name="bundle/fifo", kind=tarfile.FIFOTYPE), r"fifo"),
}


@pytest.mark.parametrize("python", ["data filter", "3.11.2"])
@pytest.mark.parametrize("case", sorted(UNSAFE_MEMBERS))
def test_archive_with_unsafe_member_is_refused_on_both_paths(tmp_path, request, monkeypatch, python, case):
    if python == "3.11.2":
        request.getfixturevalue("python_3_11_2")
    elif not hasattr(tarfile, "data_filter"):
        pytest.skip("this Python has no data filter (e.g. Debian's 3.11.2): the 3.11.2 path is the one in use")
    member, name = UNSAFE_MEMBERS[case]
    unpack_dir = tmp_path / "unpack"
    unpack_dir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(unpack_dir))  # where load_bundle unpacks to
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as tar:
        tar.addfile(*_member("bundle/ok.txt"))  # a harmless member first: nothing may be unpacked before the check
        tar.addfile(*_member(**member))
    with pytest.raises(BundleError, match=r"evil\.tar\.gz: cannot unpack the bundle archive \(.*" + name):
        load_bundle(evil)
    assert not (tmp_path / "escape").exists()
    assert list(unpack_dir.iterdir()) == [], "the unpack directory was not removed"


def test_python_3_11_2_path_refuses_absolute_names_and_oversized_archives(tmp_path, python_3_11_2, monkeypatch):
    from edge_agent.scoring import archive

    absolute = tmp_path / "absolute.tar.gz"
    with tarfile.open(absolute, "w:gz") as tar:
        tar.addfile(*_member("/tmp/bearing-edge-escape"))
    with pytest.raises(BundleError, match=r"absolute\.tar\.gz: cannot unpack the bundle archive \(member "
                                          r"'/tmp/bearing-edge-escape' would land outside the bundle directory\)"):
        load_bundle(absolute)

    big = tmp_path / "big.tar.gz"
    with tarfile.open(big, "w:gz") as tar:
        tar.addfile(*_member("bundle/model.tflite", data=bytes(2048)))
    monkeypatch.setattr(archive, "MAX_UNPACKED_BYTES", 1024)
    with pytest.raises(BundleError, match=r"big\.tar\.gz: cannot unpack the bundle archive \(more than 1,024 "
                                          r"bytes unpacked"):
        load_bundle(big)
    monkeypatch.setattr(archive, "MAX_MEMBERS", 1)
    twice = tmp_path / "twice.tar.gz"
    with tarfile.open(twice, "w:gz") as tar:
        tar.addfile(*_member("bundle/a"))
        tar.addfile(*_member("bundle/b"))
    with pytest.raises(BundleError, match=r"twice\.tar\.gz: cannot unpack the bundle archive \(2 members, more than "
                                          r"a bundle's limit of 1\)"):
        load_bundle(twice)


# --- issue 11 #11 and #13: every number in range, every field of the right type, a message never a traceback ---

def _set(*path_and_value):
    """A manifest edit: ``_set("threshold", "value", 1e308)`` sets manifest["threshold"]["value"]."""
    *path, key, value = path_and_value

    def edit(m):
        for p in path:
            m = m[p]
        m[key] = value
    return edit


#: case -> (manifest edit, what the refusal says)
BAD_MANIFESTS = {
    "threshold 1e308": (_set("threshold", "value", 1e308), r"threshold\.value must be a finite number > 0 and <= 1e\+06"),
    "variant threshold 1e308": (_set("variants", "int8", "threshold", 1e308),
                                r"variants\['int8'\]\.threshold must be a finite number > 0 and <= 1e\+06"),
    "threshold far above its errors": (_set("variants", "int8", "threshold", 5000.0),
                                       r"variants\['int8'\]\.threshold 5000 is more than 1000 x the largest healthy "
                                       r"error it was set from \(0\.\d+\): the model's error can never reach it"),
    "threshold a string": (_set("threshold", "value", "0.3"), r"threshold\.value must be a number, got '0\.3' \(str\)"),
    "variant threshold a string": (_set("variants", "int8", "threshold", "0.3"),
                                   r"variants\['int8'\]\.threshold must be a number, got '0\.3' \(str\)"),
    "debounce 10**300": (_set("threshold", "debounce", 10**300),
                         r"threshold\.debounce must be an integer from 1 to 1,000, got an integer of about 300 digits"),
    "debounce inf": (_set("threshold", "debounce", math.inf),
                     r"threshold\.debounce must be an integer from 1 to 1,000, got inf \(float\)"),
    "debounce 2.5": (_set("threshold", "debounce", 2.5), r"threshold\.debounce must be an integer .* got 2\.5"),
    "samples_per_snapshot 10**12": (_set("feature_spec", "samples_per_snapshot", 10**12),
                                    r"feature_spec\.samples_per_snapshot must be an integer from 1 to 1,048,576, "
                                    r"got 1000000000000"),
    "timesteps a string": (_set("feature_spec", "timesteps", "1"), r"feature_spec\.timesteps must be an integer"),
    "sample rate NaN": (_set("feature_spec", "sample_rate_hz", math.nan), r"feature_spec\.sample_rate_hz must be a "
                                                                          r"finite number"),
    "files as a list": (_set("files", ["scaler.json"]), r"'files' must be an object, got list"),
    "variants as a list": (_set("variants", ["int8"]), r"'variants' must be an object, got list"),
    "variant as a string": (_set("variants", "int8", "model_int8.tflite"), r"variants\['int8'\] must be an object"),
    "runtimes a string": (_set("variants", "int8", "runtimes", "ai-edge-litert"),
                          r"variants\['int8'\]\.runtimes must be a non-empty list of runtime names"),
    "threshold a list": (_set("threshold", [0.3]), r"'threshold' must be an object, got list"),
    "channel names a string": (_set("feature_spec", "channel_names", "Bearing 1"),
                               r"feature_spec\.channel_names must be a list of 1 to 64 names"),
}


@pytest.mark.parametrize("case", sorted(BAD_MANIFESTS))
def test_manifest_numbers_out_of_range_or_of_the_wrong_type_are_refused_with_a_message(copy, resign, case):
    edit, message = BAD_MANIFESTS[case]
    if case != "files as a list":
        resign(copy, edit)
    else:  # resign rebuilds 'files'; write the list after it
        resign(copy)
        manifest = json.loads((copy / "manifest.json").read_text())
        edit(manifest)
        (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match=r"manifest\.json: .*" + message):
        load_bundle(copy, variant="int8")


def test_a_5000_digit_integer_in_the_manifest_is_a_message(copy):
    text = (copy / "manifest.json").read_text()
    manifest = json.loads(text)
    (copy / "manifest.json").write_text(text.replace(json.dumps(manifest["threshold"]["value"]), "9" * 5000, 1))
    with pytest.raises(BundleError, match=r"manifest\.json: not valid JSON \(.*digits.*\); copy the bundle again"):
        load_bundle(copy)


@pytest.mark.parametrize("scale, message", [
    (1e39, r"scaler scale is not finite in float32 .* for \['Bearing 2'\]: the model would see inf"),
    (0.0, r"scaler scale must be > 0, got \[0\.0\] for \['Bearing 2'\]"),
    (-2.0, r"scaler scale must be > 0, got \[-2\.0\] for \['Bearing 2'\]"),
])
def test_scaler_scale_must_be_finite_in_float32_and_positive(copy, resign, scale, message):
    scaler = json.loads((copy / "scaler.json").read_text())
    scaler["scale"][1] = scale
    (copy / "scaler.json").write_text(json.dumps(scaler))
    resign(copy)
    with pytest.raises(BundleError, match=r"scaler\.json: " + message):
        load_bundle(copy)


# --- issue 11 #10: a checksummed model that crashes the runtime is refused, and only a child process dies ---

FIXTURES = Path(__file__).parent / "fixtures"
DAMAGED_MODEL = FIXTURES / "bitflip_segfault.tflite"  # a real model with one bit flipped: fixtures/README.md
#: What the runtime says of it. Through the XNNPACK delegate it killed the process with SIGSEGV (check-bundle
#: exited -11, a reload killed the agent); the builtin kernels the kit uses now refuse it while preparing.
DAMAGED_MODEL_ERROR = (r"a test load and invoke on (ai-edge-litert|tflite-runtime) failed "
                       r"\(RuntimeError: .*SPLIT\) failed to prepare")  # (a 32-bit Pi: tflite-runtime)


@pytest.fixture
def damaged_bundle(copy, resign):
    """The session bundle with its float32 model replaced by the bit-flipped one, checksums re-signed."""
    import shutil

    shutil.copyfile(DAMAGED_MODEL, copy / "model_float32.tflite")
    resign(copy)
    return copy


def test_check_bundle_reports_a_damaged_model_that_passes_its_checksum(damaged_bundle):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "edge_agent.cli.main", "check-bundle", str(damaged_bundle),
                           "--variant", "float32"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)  # with XNNPACK, before the probe: -11, no message
    assert re.search(r"model_float32\.tflite: " + DAMAGED_MODEL_ERROR, proc.stderr), proc.stderr
    assert "copy the bundle again, or reconvert it" in proc.stderr and proc.stderr.count("\n") == 1


def test_the_agent_refuses_a_damaged_bundle_at_start_and_at_a_reload_and_survives(damaged_bundle, bundle_dir):
    import time

    from edge_agent.config import AgentSection
    from edge_agent.reload import BundleReloader, load_scorer

    agent = AgentSection(bundle=str(damaged_bundle), variant="float32")
    with pytest.raises(BundleError, match=DAMAGED_MODEL_ERROR):
        load_scorer(agent)  # what Agent() does at start: an AgentError with this reason
    reloader = BundleReloader(agent)
    reloader.request()
    deadline = time.monotonic() + 300
    while (result := reloader.poll(None)) is None:
        assert time.monotonic() < deadline, "the reload never finished"
        time.sleep(0.05)
    assert result.loaded is None and re.search(DAMAGED_MODEL_ERROR, result.problem), result.problem
    assert load_scorer(AgentSection(bundle=str(bundle_dir))).bundle.bundle_id  # this process still loads bundles


def test_damaged_models_are_refused_or_their_crash_is_contained_in_the_probe(tmp_path):
    """Bit flips in a real model, drawn as the fixture's were (fixtures/README.md), through the probe.

    Each is refused with a message or runs; a crash of the runtime stays in the probe's child and comes
    back as ModelCrashed naming the signal. Why the kit runs the builtin kernels without the XNNPACK
    delegate: through XNNPACK the 124th of these killed the process (SIGSEGV), and on ai-edge-litert the
    builtin kernels refuse or run all of them (the search behind the fixture: 600 single flips and 1,500
    of 1-4 flips, none crashed). tflite-runtime 2.14 on the emulated armhf Pi does crash on one of the
    40 here (bit 2 of byte 763): there this test is the probe's real signal case.
    """
    import random

    from edge_agent.scoring.probe import ModelCrashed, probe_model
    from edge_agent.scoring.runtime import resolve_runtime

    runtime = resolve_runtime()  # the one this machine scores with (a 32-bit Pi: tflite-runtime)
    data = bytearray(DAMAGED_MODEL.read_bytes())
    data[6364] ^= 1 << 7  # the original model
    original = tmp_path / "original.tflite"
    original.write_bytes(data)
    probe_model(original, runtime)  # the original runs: the probe works here
    rng = random.Random(11)
    flips = [(rng.randrange(len(data)), rng.randrange(8)) for _ in range(124)][-40:]  # the last 40, the crash's among them
    crashed = []
    for k, (offset, bit) in enumerate(flips):
        damaged = bytearray(data)
        damaged[offset] ^= 1 << bit
        path = tmp_path / f"flip{k}.tflite"
        path.write_bytes(damaged)
        try:
            probe_model(path, runtime)
        except ModelCrashed as exc:
            assert str(exc).startswith(str(path)) and "copy the bundle again, or reconvert it" in str(exc)
            if f"crashed the {runtime} runtime (SIG" in str(exc):
                crashed.append((offset, bit))
    if runtime == "ai-edge-litert":  # the builtin kernels' checks; the XNNPACK delegate crashed on (6364, 7)
        assert crashed == [], f"bit flips that crashed {runtime}: {crashed}"
    print(f"\n{runtime}: {len(crashed)} of {len(flips)} damaged models crashed the runtime in the probe: {crashed}")


# --- issue 11 #12: size limits on every Python, every archive error a message, no folder left behind ---

@pytest.fixture
def unpack_dir(tmp_path, monkeypatch):
    """Where load_bundle unpacks archives in this test (tempfile's directory)."""
    folder = tmp_path / "unpack"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.mark.parametrize("python", ["data filter", "3.11.2"])
def test_oversized_members_are_refused_before_anything_is_written(tmp_path, request, monkeypatch, unpack_dir, python):
    from edge_agent.scoring import archive

    if python == "3.11.2":
        request.getfixturevalue("python_3_11_2")
    monkeypatch.setattr(archive, "MAX_MEMBER_BYTES", 1024)
    big = tmp_path / "big.tar.gz"
    with tarfile.open(big, "w:gz") as tar:
        tar.addfile(*_member("bundle/manifest.json", data=b"{}"))
        tar.addfile(*_member("bundle/model.tflite", data=bytes(4096)))  # zeros: a tiny archive, a big file
    with pytest.raises(BundleError, match=r"big\.tar\.gz: cannot unpack the bundle archive \(member "
                                          r"'bundle/model\.tflite' is 4,096 bytes, more than a bundle file's limit "
                                          r"of 1,024\); copy the archive again"):
        load_bundle(big)
    assert list(unpack_dir.iterdir()) == []


@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_a_truncated_archive_says_copy_it_again_and_leaves_no_folder(bundle_dir, tmp_path, unpack_dir, keep):
    data = bundle_dir.with_name(bundle_dir.name + ".tar.gz").read_bytes()
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(data[:int(len(data) * keep)])
    with pytest.raises(BundleError, match=r"cut\.tar\.gz: cannot unpack the bundle archive \(.+\); copy the "
                                          r"archive again"):
        load_bundle(cut)
    assert list(unpack_dir.iterdir()) == []


def test_folders_of_killed_agents_are_removed_at_the_next_unpack(bundle_dir, unpack_dir):
    import os
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = unpack_dir / f"bearing-bundle-{int(dead.stdout)}-k9xyz"  # what a kill -9 leaves behind
    (stale / "bundle").mkdir(parents=True)
    (stale / "bundle" / "model_int8.tflite").write_bytes(b"x")
    alive = unpack_dir / f"bearing-bundle-{os.getpid()}-other"  # another bundle this process still runs
    alive.mkdir()
    bundle = load_bundle(bundle_dir.with_name(bundle_dir.name + ".tar.gz"))
    assert not stale.exists() and alive.is_dir()
    assert bundle.path.is_relative_to(unpack_dir) and bundle.path.parent.name.startswith(f"bearing-bundle-{os.getpid()}-")
    folder = bundle.path.parent
    del bundle
    import gc
    gc.collect()
    assert not folder.exists(), "the unpacked copy outlived its Bundle"
