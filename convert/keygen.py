"""``python -m convert.keygen NAME``: a new Ed25519 key pair for signing bundles (``NAME.key``, ``NAME.pub``).

Keep ``NAME.key`` on the desktop that converts (mode 0600, never on a device); copy ``NAME.pub`` to each
device and list it in ``[agent] trusted_keys``. The key id printed is what the device's messages name.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from firmware_io.cli_support import main_single


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="path and name of the key pair: writes NAME.key (private) and NAME.pub (public)")


def run(args: argparse.Namespace) -> int:
    from edge_agent.scoring.signing import generate

    private, public = Path(args.name + ".key"), Path(args.name + ".pub")
    for path in (private, public):
        if path.exists():
            print(f"python -m convert.keygen: {path} exists; a key is never overwritten (choose another NAME)",
                  file=sys.stderr)
            return 2
    key_id = generate(private, public)
    print(f"key {key_id}: private {private} (keep it on this machine), public {public} (copy it to the devices "
          "and list it in [agent] trusted_keys)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return main_single("python -m convert.keygen", sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
