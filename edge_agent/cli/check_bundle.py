"""``bearing-agent check-bundle``: verify a bundle before deploying it, and print its manifest summary.

Loading it (:func:`edge_agent.scoring.bundle.load_bundle`) verifies the
checksums, the schema, the scaler, the model shapes and the runtime; a bundle
that fails any of them is refused with the file and the problem named. The model
is loaded and invoked in a child process first, as the agent does, so a model
that crashes the runtime is reported, not a segfault of this command.
"""
from __future__ import annotations

import argparse
import json

from edge_agent.cli.bundle_options import add_bundle_options


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("bundle", help="bundle directory or .tar.gz")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--trusted-key", action="append", metavar="PUB", dest="trusted_keys",
                   help="require a signature by this public key file (repeatable), as [agent] trusted_keys does")
    add_bundle_options(p)


def run(args: argparse.Namespace) -> int:
    from edge_agent.scoring.bundle import describe, load_bundle

    bundle = load_bundle(args.bundle, variant=args.variant, runtime=args.runtime, probe=True,
                         trusted_keys=args.trusted_keys)
    # what the sensor board must send, for the user to compare with its StreamInfo (docs/edge_agent.md)
    summary = describe(bundle) | {"sample_rate_hz": bundle.spec.sample_rate_hz,
                                  "samples_per_snapshot": bundle.spec.samples_per_snapshot}
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"bundle {summary['bundle_id']} OK: schema {summary['schema_version']}, all checksums match")
    print(f"  variant {summary['variant']} on {summary['runtime']}, threshold {summary['threshold']:.6g}, "
          f"debounce {summary['debounce']}, T={summary['timesteps']}")
    print(f"  expects {len(summary['channels'])} channels {summary['channels']} at {summary['sample_rate_hz']} Hz, "
          f"{summary['samples_per_snapshot']} samples per snapshot")
    if summary.get("reference"):
        print(f"  reference: {summary['reference']}")
    if summary.get("physics_diagnosis"):
        print(f"  physics diagnosis: {summary['physics_diagnosis']}")
    if summary.get("signed_by"):
        print(f"  signature: by trusted key {summary['signed_by']}, bundle_version {summary['bundle_version']}")
    for name, v in summary["variants"].items():
        print(f"  {name:8s} {v['file']:24s} runtimes={v['runtimes']} parity_passed={v['parity_passed']}"
              + (" FORCED" if v["forced"] else ""))
    return 0
