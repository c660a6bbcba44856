"""Bundle signatures: Ed25519 over ``manifest.json``'s exact bytes, checked against the keys a device trusts.

The manifest holds the sha256 of every other file and, since schema 2, the bundle id that
names all of it: a valid signature over its bytes vouches for the whole bundle. The
signature lives beside it in ``manifest.sig`` (JSON: ``algorithm``, ``key_id``,
``signature`` in base64); it is not listed in the manifest's ``files``. A key's id is the
first 16 hex digits of the sha256 of its 32 raw public-key bytes. Keys are PEM files
(PKCS#8 private, SubjectPublicKeyInfo public), the format of ``openssl genpkey -algorithm
ed25519``, so keys made with OpenSSL work too.

The library is python-ecdsa (``ecdsa``, maintained by the tlsfuzzer project): pure Python, so
it installs from PyPI as the same ``py3-none-any`` wheel on a 64-bit and a 32-bit Raspberry Pi.
pyca/cryptography has an armv7l wheel, but needs cffi, which has none on PyPI for armv7l (pip
builds it from source there: a compiler and libffi-dev on the Pi). python-ecdsa's arithmetic is
not constant-time; that matters for a key that signs attacker-chosen data online, not for
verifying public bytes on the device or for an engineer signing a bundle once on a desktop.
A device verifies in a child process (:func:`verify_in_child`, ``python -m edge_agent.scoring.signing``,
like the model probe): importing the library, and through it hashlib's OpenSSL, costs a process
4.7 MiB of resident memory for its whole life (measured on the x86 build machine), which the agent,
with its 50 MiB goal, does not pay. Verifying one manifest takes about 10 ms in the child.

A signed manifest carries ``bundle_version`` (an integer): a device refuses a bundle older
than the one it runs (a downgrade) unless told to allow it.
"""
from __future__ import annotations

import base64
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from edge_agent.scoring.disk_watch import sha256_bytes
from firmware_io.errors import BearingEdgeError

SIGNATURE = "manifest.sig"
ALGORITHM = "ed25519"
MAX_KEY_BYTES = 16 * 1024


class SignatureError(BearingEdgeError, ValueError):
    """A bundle that is unsigned, signed by an untrusted key, or whose signature does not match; or a bad key."""


@dataclass(frozen=True)
class PublicKey:
    key_id: str
    raw: bytes  # the 32-byte Ed25519 public key
    source: str  # the file it came from, for messages


def key_id(raw: bytes) -> str:
    return sha256_bytes(raw)[:16]


def read_public_key(path: str | Path) -> PublicKey:
    """A PEM public key file (or a private key file: its public half), as ``openssl pkey -pubout`` writes it."""
    from ecdsa import Ed25519, SigningKey, VerifyingKey
    from ecdsa.der import UnexpectedDER

    text = _read_key_file(path)
    try:
        if "PRIVATE KEY" in text:
            vk = SigningKey.from_pem(text).get_verifying_key()
        else:
            vk = VerifyingKey.from_pem(text)
    except (UnexpectedDER, ValueError, AssertionError) as exc:
        raise SignatureError(f"{path}: not a PEM Ed25519 key ({exc}); make one with 'bearing-convert keygen'") from exc
    if vk.curve != Ed25519:
        raise SignatureError(f"{path}: a {vk.curve.name} key; bundles are signed with Ed25519 keys "
                             "('bearing-convert keygen')")
    raw = vk.to_string()
    return PublicKey(key_id(raw), raw, str(path))


def _read_key_file(path: str | Path) -> str:
    try:
        data = Path(path).read_bytes()[:MAX_KEY_BYTES + 1]
    except OSError as exc:
        raise SignatureError(f"{path}: cannot read the key file ({exc.strerror or exc})") from exc
    if len(data) > MAX_KEY_BYTES:
        raise SignatureError(f"{path}: larger than {MAX_KEY_BYTES} bytes: not a key file")
    try:
        return data.decode("ascii")
    except UnicodeDecodeError as exc:
        raise SignatureError(f"{path}: not a PEM key file (not ASCII text)") from exc


def verify(manifest_bytes: bytes, signature_bytes: bytes | None, trusted: list[PublicKey], where: str) -> str:
    """Check ``signature_bytes`` (``manifest.sig``, None if absent) over ``manifest_bytes`` against ``trusted``;
    return the key id that signed, else raise :class:`SignatureError` naming the key ids."""
    from ecdsa import BadSignatureError, Ed25519, VerifyingKey

    ids = ", ".join(k.key_id for k in trusted)
    if signature_bytes is None:
        raise SignatureError(f"{where}: the bundle is not signed (no {SIGNATURE}), and this device trusts only "
                             f"bundles signed by key {ids}: sign it with 'bearing-convert ... --sign KEY'")
    try:
        sig = json.loads(signature_bytes.decode("utf-8"))
        if sig.get("algorithm") != ALGORITHM:
            raise ValueError(f"algorithm {sig.get('algorithm')!r}, expected {ALGORITHM!r}")
        signer, signature = str(sig["key_id"]), base64.b64decode(sig["signature"], validate=True)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:  # UnicodeDecodeError, binascii.Error: ValueError
        raise SignatureError(f"{where}/{SIGNATURE}: not a bundle signature ({exc}); copy the bundle again") from exc
    key = next((k for k in trusted if k.key_id == signer), None)
    if key is None:
        raise SignatureError(f"{where}: signed by key {signer[:16]}, which this device does not trust (trusted: "
                             f"{ids}); add its public key to [agent] trusted_keys, or sign with a trusted key")
    try:
        VerifyingKey.from_string(key.raw, curve=Ed25519).verify(signature, manifest_bytes)
    except (BadSignatureError, ValueError, AssertionError) as exc:
        raise SignatureError(f"{where}: the signature by key {signer} does not match manifest.json: the manifest "
                             "was changed after it was signed; copy the bundle again from the desktop") from exc
    return signer


def verify_files(manifest_bytes: bytes, signature_bytes: bytes | None, key_paths: list[str], where: str) -> str:
    """:func:`verify` with the trusted keys read from their files (the child's work)."""
    return verify(manifest_bytes, signature_bytes, [read_public_key(p) for p in key_paths], where)


#: How long the child may take: starting Python and importing the library takes a few seconds on a Pi 3 under load.
VERIFY_TIMEOUT_S = 120.0


def verify_in_child(manifest_bytes: bytes, signature_bytes: bytes | None, key_paths: list[str], where: str,
                    timeout_s: float = VERIFY_TIMEOUT_S) -> str:
    """:func:`verify_files` in a child process, so that this process never imports the library; the key id
    that signed, else :class:`SignatureError` with the child's message."""
    payload = {"manifest": base64.b64encode(manifest_bytes).decode(), "keys": [str(p) for p in key_paths],
               "signature": None if signature_bytes is None else base64.b64encode(signature_bytes).decode(),
               "where": where}
    try:
        proc = subprocess.run([sys.executable, "-m", "edge_agent.scoring.signing"], input=json.dumps(payload),
                              capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        raise SignatureError(f"{where}: the signature check did not finish within {timeout_s:g} s") from exc
    lines = proc.stderr.strip().splitlines()
    if proc.returncode == 2 and lines:
        raise SignatureError(lines[-1])
    if proc.returncode != 0:
        raise SignatureError(f"{where}: the signature check failed ({lines[-1] if lines else proc.returncode}); "
                             "is the edge extra installed (pip install 'bearing-edge[edge]': ecdsa)?")
    return proc.stdout.strip()


def check_version(manifest: dict, floor: int | None, allow_downgrade: bool, where: str) -> None:
    """Refuse a signed bundle whose ``bundle_version`` is below ``floor`` (the version running, or last run)."""
    version = manifest.get("bundle_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise SignatureError(f"{where}: a signed bundle must carry an integer bundle_version >= 0, got {version!r}; "
                             "reconvert with 'bearing-convert ... --sign KEY'")
    if floor is not None and version < floor and not allow_downgrade:
        raise SignatureError(f"{where}: bundle_version {version} is older than {floor}, the version this device ran "
                             "last: a downgrade. To go back on purpose set [agent] allow_downgrade = true for this install")


def sign(manifest_bytes: bytes, private_key_path: str | Path) -> bytes:
    """``manifest.sig``'s bytes for ``manifest_bytes``, signed with the PEM private key at ``private_key_path``."""
    from ecdsa import Ed25519, SigningKey
    from ecdsa.der import UnexpectedDER

    try:
        sk = SigningKey.from_pem(_read_key_file(private_key_path))
    except (UnexpectedDER, ValueError, AssertionError) as exc:
        raise SignatureError(f"{private_key_path}: not a PEM Ed25519 private key ({exc})") from exc
    if sk.curve != Ed25519:
        raise SignatureError(f"{private_key_path}: a {sk.curve.name} key; sign bundles with an Ed25519 key")
    signature = sk.sign(manifest_bytes)
    body = {"algorithm": ALGORITHM, "key_id": key_id(sk.get_verifying_key().to_string()),
            "signature": base64.b64encode(signature).decode("ascii")}
    return (json.dumps(body, indent=2) + "\n").encode()


def generate(private_path: str | Path, public_path: str | Path) -> str:
    """A new key pair: the private key (mode 0600) and the public key as PEM files; returns the key id."""
    import os

    from ecdsa import Ed25519, SigningKey

    sk = SigningKey.generate(curve=Ed25519)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never over an existing key
    with os.fdopen(fd, "wb") as fh:
        fh.write(sk.to_pem(format="pkcs8"))
    Path(public_path).write_bytes(sk.get_verifying_key().to_pem())
    return key_id(sk.get_verifying_key().to_string())


def _child() -> int:
    """``python -m edge_agent.scoring.signing``: the JSON of :func:`verify_in_child` on stdin; prints the key id
    that signed, or the refusal on stderr with exit code 2."""
    request = json.loads(sys.stdin.read())
    signature = request["signature"]
    try:
        signer = verify_files(base64.b64decode(request["manifest"]),
                              None if signature is None else base64.b64decode(signature),
                              request["keys"], request["where"])
    except SignatureError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(signer)
    return 0


if __name__ == "__main__":
    sys.exit(_child())
