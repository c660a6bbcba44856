"""Issue 22 #4: signed bundles. With trusted keys configured, the loader refuses an unsigned bundle, one
signed by another key, a manifest changed after signing, and a downgrade unless it is allowed; each message
names the key ids."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from edge_agent.scoring.bundle import BundleError, load_bundle
from edge_agent.scoring.signing import SIGNATURE, generate, read_public_key, sign


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """Two key pairs: the plant's ('trusted') and someone else's ('other')."""
    folder = tmp_path_factory.mktemp("keys")
    made = {}
    for name in ("trusted", "other"):
        key_id = generate(folder / f"{name}.key", folder / f"{name}.pub")
        made[name] = (folder / f"{name}.key", folder / f"{name}.pub", key_id)
    return made


def sign_bundle(bundle: Path, key: Path, version: int, resign, edit=None) -> None:
    """What bearing-convert --sign does to a bundle: a bundle_version in the manifest, then manifest.sig."""
    def set_version(manifest):
        manifest["bundle_version"] = version
        if edit:
            edit(manifest)
    resign(bundle, set_version)
    (bundle / SIGNATURE).write_bytes(sign((bundle / "manifest.json").read_bytes(), key))


@pytest.fixture
def signed(bundle_dir, tmp_path, copy_bundle, keys, resign):
    copy = copy_bundle(bundle_dir, tmp_path / "bundle")
    sign_bundle(copy, keys["trusted"][0], 5, resign)
    return copy


def trusted(keys, *names):
    """The public key files of ``names``: what [agent] trusted_keys lists."""
    return [keys[n][1] for n in names]


def test_a_bundle_signed_by_a_trusted_key_loads_and_says_who_signed(signed, keys):
    bundle = load_bundle(signed, trusted_keys=trusted(keys, "other", "trusted"))
    assert bundle.signed_by == keys["trusted"][2] and bundle.manifest["bundle_version"] == 5
    assert load_bundle(signed).signed_by is None  # no trusted keys configured: not checked


def test_an_unsigned_bundle_is_refused_naming_the_trusted_keys(bundle_dir, keys):
    with pytest.raises(BundleError, match=rf"the bundle is not signed \(no manifest\.sig\), and this device trusts "
                                          rf"only bundles signed by key {keys['trusted'][2]}: sign it with"):
        load_bundle(bundle_dir, trusted_keys=trusted(keys, "trusted"))


def test_check_bundle_checks_the_signature_with_trusted_key(signed, keys):
    import sys

    cmd = [sys.executable, "-m", "edge_agent.cli.main", "check-bundle", str(signed)]
    ok = subprocess.run([*cmd, "--trusted-key", str(keys["trusted"][1])], capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0 and f"  signature: by trusted key {keys['trusted'][2]}, bundle_version 5" in ok.stdout
    refused = subprocess.run([*cmd, "--trusted-key", str(keys["other"][1])], capture_output=True, text=True,
                             timeout=300)
    assert refused.returncode == 2 and f"signed by key {keys['trusted'][2]}, which this device does not trust" \
        in refused.stderr, refused.stderr


def test_a_bundle_signed_by_another_key_is_refused_naming_both(signed, keys):
    with pytest.raises(BundleError, match=rf"signed by key {keys['trusted'][2]}, which this device does not trust "
                                          rf"\(trusted: {keys['other'][2]}\)"):
        load_bundle(signed, trusted_keys=trusted(keys, "other"))


def test_a_manifest_changed_after_signing_is_refused(signed, keys, resign):
    resign(signed, lambda m: m["threshold"].__setitem__("debounce", 1))  # consistent checksums and id, old signature
    with pytest.raises(BundleError, match=rf"the signature by key {keys['trusted'][2]} does not match manifest\.json: "
                                          r"the manifest was changed after it was signed"):
        load_bundle(signed, trusted_keys=trusted(keys, "trusted"))
    (signed / SIGNATURE).write_text("{not json")
    with pytest.raises(BundleError, match=r"manifest\.sig: not a bundle signature"):
        load_bundle(signed, trusted_keys=trusted(keys, "trusted"))


def test_a_downgrade_is_refused_unless_allowed(signed, keys, resign):
    keyring = trusted(keys, "trusted")
    assert load_bundle(signed, trusted_keys=keyring, version_floor=5).manifest["bundle_version"] == 5
    with pytest.raises(BundleError, match=r"bundle_version 5 is older than 6, the version this device ran last: a "
                                          r"downgrade\. To go back on purpose set \[agent\] allow_downgrade = true"):
        load_bundle(signed, trusted_keys=keyring, version_floor=6)
    assert load_bundle(signed, trusted_keys=keyring, version_floor=6, allow_downgrade=True).signed_by


def test_keys_made_with_openssl_sign_and_verify(signed, tmp_path, resign):
    from tests.conftest import require_executable

    openssl = require_executable("openssl", "openssl")
    key, pub = tmp_path / "plant.key", tmp_path / "plant.pub"
    subprocess.run([openssl, "genpkey", "-algorithm", "ed25519", "-out", str(key)], check=True, capture_output=True)
    subprocess.run([openssl, "pkey", "-in", str(key), "-pubout", "-out", str(pub)], check=True, capture_output=True)
    sign_bundle(signed, key, 9, resign)
    assert load_bundle(signed, trusted_keys=[pub]).signed_by == read_public_key(pub).key_id
    # and a signature openssl made over the same bytes verifies too (the format is plain Ed25519)
    raw = tmp_path / "sig.bin"
    subprocess.run([openssl, "pkeyutl", "-sign", "-inkey", str(key), "-rawin", "-in", str(signed / "manifest.json"),
                    "-out", str(raw)], check=True, capture_output=True)
    import base64

    body = json.loads((signed / SIGNATURE).read_text()) | {"signature": base64.b64encode(raw.read_bytes()).decode()}
    (signed / SIGNATURE).write_text(json.dumps(body))
    assert load_bundle(signed, trusted_keys=[pub]).signed_by


def test_the_loading_process_never_imports_the_signature_library(signed, keys):
    """The signature is checked in a child process: importing python-ecdsa (and hashlib's OpenSSL through it)
    would cost the agent 4.7 MiB of resident memory for its whole life. Compared with loading the same bundle
    without keys, checking its signature adds no module to the loading process (on the emulated armhf Pi the
    runtime's own imports bring hashlib in either way, so its mere presence proves nothing)."""
    import sys

    def modules_after_load(trusted: str) -> list[str]:
        script = ("import sys; from edge_agent.scoring.bundle import load_bundle; "
                  f"b = load_bundle({str(signed)!r}, trusted_keys={trusted}); "
                  "print(b.signed_by); print(' '.join(sorted(sys.modules)))")
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return proc.stdout.splitlines()

    signed_by, with_keys = modules_after_load(f"[{str(keys['trusted'][1])!r}]")
    unsigned_by, without_keys = modules_after_load("None")
    assert (signed_by, unsigned_by) == (keys["trusted"][2], "None")
    added = set(with_keys.split()) - set(without_keys.split())
    assert not added and "ecdsa" not in with_keys.split(), sorted(added)


def test_a_missing_or_bad_trusted_key_file_refuses_the_bundle_with_its_name(signed, tmp_path):
    (tmp_path / "junk.pub").write_text("hello")
    with pytest.raises(BundleError, match=r"junk\.pub: not a PEM Ed25519 key"):
        load_bundle(signed, trusted_keys=[tmp_path / "junk.pub"])


def test_bad_key_files_are_a_message(tmp_path):
    from edge_agent.scoring.signing import SignatureError

    (tmp_path / "junk.pub").write_text("hello")
    with pytest.raises(SignatureError, match=r"junk\.pub: not a PEM Ed25519 key"):
        read_public_key(tmp_path / "junk.pub")
    with pytest.raises(SignatureError, match=r"missing\.pub: cannot read the key file"):
        read_public_key(tmp_path / "missing.pub")


def test_bearing_convert_signs_the_bundle_and_its_archive(model_dir, feature_table_path, keys, tmp_path):
    pytest.importorskip("tensorflow", reason="conversion needs TensorFlow (a Pi has none)")
    from convert.pipeline import convert_model_dir

    result = convert_model_dir(model_dir(1), tmp_path / "bundle", variants=("float32",), data=feature_table_path,
                               runtimes=("ai-edge-litert",), sign=keys["trusted"][0], bundle_version=7)
    keyring = trusted(keys, "trusted")
    for path in (result.bundle_dir, result.archive):
        bundle = load_bundle(path, trusted_keys=keyring)
        assert bundle.signed_by == keys["trusted"][2] and bundle.manifest["bundle_version"] == 7
    assert SIGNATURE not in json.loads((result.bundle_dir / "manifest.json").read_text())["files"]


def test_the_agent_refuses_to_start_on_an_older_bundle_than_it_ran(signed, keys, tmp_path, bundle_dir, copy_bundle,
                                                                   resign):
    from gpiozero.pins.mock import MockFactory

    from edge_agent.config import parse_config
    from edge_agent.journal import Journal
    from edge_agent.service import Agent, AgentError

    def config(bundle, **agent):
        return parse_config({"agent": {"bundle": str(bundle), "trusted_keys": [str(keys["trusted"][1])], **agent},
                             "serial": {"port": str(tmp_path / "no-such-device")}, "gpio": {"pin_factory": "mock"},
                             "journal": {"path": str(tmp_path / "j.sqlite")}}, "<test>")

    Agent(config(signed), pin_factory=MockFactory()).journal.close()  # version 5 ran: the journal keeps it
    journal = Journal(tmp_path / "j.sqlite", create=False)
    assert journal.get_state("bundle_version") == 5
    journal.close()
    older = copy_bundle(bundle_dir, tmp_path / "older")
    sign_bundle(older, keys["trusted"][0], 4, resign)
    with pytest.raises(AgentError, match=r"bundle_version 4 is older than 5, the version this device ran last"):
        Agent(config(older), pin_factory=MockFactory())
    Agent(config(older, allow_downgrade=True), pin_factory=MockFactory()).journal.close()
    with pytest.raises(AgentError, match=re.escape(f"the bundle is not signed (no manifest.sig)")):
        Agent(config(bundle_dir), pin_factory=MockFactory())
