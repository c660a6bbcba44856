"""``bearing-agent deploy`` from a shell: every refusal is one clear line and a non-zero status, never a traceback;
with no agent running the bundle is verified by the command itself and queued for the agent's start."""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from edge_agent.cli import main as cli
from edge_agent.journal import Journal


@pytest.fixture
def site(tmp_path, real_bundle):
    """An install as docs/edge_agent.md makes it (the link [agent] bundle -> bundles/v1), agent not running."""
    shutil.copytree(real_bundle, tmp_path / "bundles" / "v1")
    (tmp_path / "bundle").symlink_to("bundles/v1")
    Journal(tmp_path / "journal.sqlite").close()
    config = tmp_path / "agent.toml"
    config.write_text(f'[agent]\nbundle = "{tmp_path / "bundle"}"\n[journal]\npath = "{tmp_path / "journal.sqlite"}"\n')
    return tmp_path, str(config)


def run(capsys, *argv):
    capsys.readouterr()
    try:
        rc = cli.main(["deploy", *argv])
    except SystemExit as exc:  # argparse's own refusals
        rc = exc.code
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    return rc, out.out + out.err


def pending(tmp) -> list[str]:
    j = Journal(tmp / "journal.sqlite", create=False)
    try:
        return [k for k, in j.db.execute("SELECT kind FROM requests WHERE done IS NULL")]
    finally:
        j.close()


@pytest.mark.parametrize("argv, message", [
    ([], "give a bundle to deploy (deploy BUNDLE), or --status, or --rollback"),
    (["{tmp}/missing"], "missing: no such bundle folder or archive"),
    (["{tmp}"], "no manifest.json; is this a bundle folder made by bearing-convert?"),
    (["--rollback"], "nothing to roll back to: the last deploy is none"),
    (["{tmp}/bundles/v1", "--wait", "-1"], "must be a number of seconds from 0 to 3600"),
])
def test_bad_input_is_refused_with_the_reason_and_nothing_queued(site, capsys, argv, message):
    tmp, config = site
    rc, out = run(capsys, *[a.format(tmp=tmp) for a in argv], "--config", config)
    assert rc == 2 and message in out, out
    assert pending(tmp) == [] and not (tmp / "slots" / "a").exists()


def test_a_bundle_that_fails_its_checks_is_refused_here_when_no_agent_runs(site, capsys):
    tmp, config = site
    broken = shutil.copytree(tmp / "bundles" / "v1", tmp / "broken")
    model = broken / "model_float32.tflite"
    model.write_bytes(model.read_bytes()[:-10])  # half-copied
    rc, out = run(capsys, str(broken), "--config", config)
    assert rc == 2 and "refused, nothing changed" in out and "model_float32.tflite: checksum mismatch" in out, out
    assert pending(tmp) == [] and (tmp / "bundle").resolve() == (tmp / "bundles" / "v1").resolve()


def test_a_good_bundle_is_verified_and_queued_for_the_agents_start(site, capsys):
    tmp, config = site
    rc, out = run(capsys, str(tmp / "bundles" / "v1"), "--config", config)
    assert rc == 0 and "copied" in out and "it takes it when it starts" in out, out
    assert pending(tmp) == ["deploy"] and (tmp / "slots" / "a" / "manifest.json").is_file()
    rc, out = run(capsys, str(tmp / "bundles" / "v1"), "--config", config)
    assert rc == 2 and "already queued for the agent's next start" in out, out
    rc, out = run(capsys, "--status", "--config", config)
    assert rc == 0 and "link: " in out and "-> " in out and "slot a: " in out and "slot b: (empty)" in out, out


def test_a_bundle_folder_instead_of_a_link_gets_the_commands_that_make_it_one(tmp_path, real_bundle):
    shutil.copytree(real_bundle, tmp_path / "bundle")
    Journal(tmp_path / "journal.sqlite").close()
    config = tmp_path / "agent.toml"
    config.write_text(f'[agent]\nbundle = "{tmp_path / "bundle"}"\n[journal]\npath = "{tmp_path / "journal.sqlite"}"\n')
    proc = subprocess.run([sys.executable, "-m", "edge_agent.cli.main", "deploy", str(real_bundle), "--config",
                           str(config)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "is a folder, not a link" in proc.stderr and "sudo ln -s" in proc.stderr, proc.stderr
