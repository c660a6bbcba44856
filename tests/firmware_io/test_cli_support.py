"""The console commands: one dispatch style, subcommands imported only when chosen, errors without a traceback."""
from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import types
from pathlib import Path

import pytest

from firmware_io.cli_support import chosen_subcommand, main_single, main_with_subcommands
from firmware_io.errors import BearingEdgeError
from tests.conftest import import_or_skip_desktop


def _module(run) -> types.ModuleType:
    mod = types.ModuleType("fake_cli", "fake: a command for the test\n\nmore text")
    mod.configure = lambda p: p.add_argument("--x", type=int, default=0)
    mod.run = run
    return mod


def test_a_bearing_edge_error_becomes_one_line_and_its_exit_code(capsys):
    class Refused(BearingEdgeError):
        exit_code = 1

    def run(args: argparse.Namespace) -> int:
        raise Refused(f"x={args.x}: no such thing; pass another --x")

    assert main_single("fake", _module(run), ["--x", "3"]) == 1
    assert capsys.readouterr().err == "fake: error: x=3: no such thing; pass another --x\n"


def test_any_other_exception_is_a_bug_and_keeps_its_traceback():
    def run(args):
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        main_single("fake", _module(run), [])


def test_the_exit_code_is_what_run_returns():
    assert main_single("fake", _module(lambda args: args.x), ["--x", "5"]) == 5
    assert main_single("fake", _module(lambda args: None), []) == 0


def test_only_the_chosen_subcommand_module_is_imported(tmp_path, monkeypatch):
    for name in ("sub_a", "sub_b"):
        (tmp_path / f"{name}.py").write_text(
            f'"""{name}"""\nimport builtins\nbuiltins.imported = getattr(builtins, "imported", []) + ["{name}"]\n'
            "def configure(p):\n    p.add_argument('--n', type=int, default=1)\n"
            "def run(args):\n    return args.n\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import builtins

    monkeypatch.setattr(builtins, "imported", [], raising=False)
    table = {"a": ("sub_a", "the a"), "b": ("sub_b", "the b")}
    assert chosen_subcommand(["--verbose", "b", "--n", "4"], table) == "b"
    assert chosen_subcommand(["--help"], table) is None
    assert main_with_subcommands("tool", "a tool", table, ["b", "--n", "4"]) == 4
    assert builtins.imported == ["sub_b"]


def _command(name: str, module: str) -> list[str]:
    script = Path(sys.executable).with_name(name)
    return [str(script)] if script.exists() else [sys.executable, "-m", module]


@pytest.mark.parametrize("name, module, args, message", [
    ("bearing-agent", "edge_agent.cli.main", ["status", "--journal", "{tmp}/none.sqlite"],
     "bearing-agent status: error: {tmp}/none.sqlite: no journal here"),
    ("bearing-train", "train.cli", ["report", "{tmp}"], "bearing-train report: error: {tmp}"),
    ("bearing-convert", "convert.cli", ["{tmp}", "--out", "{tmp}/bundle"], "bearing-convert: error: {tmp}"),
    ("bearing-replay", "firmware_io.simulator.replay_cli", ["{tmp}/none", "--pty"],
     "bearing-replay: error: {tmp}/none: no such file or folder"),
    ("bearing-bench", "benchmarks.cli", ["--only", "features", "--out", "{tmp}/file"],
     "bearing-bench: error: {tmp}/file: cannot write the results there"),
])
def test_each_console_command_prints_the_error_without_a_traceback(tmp_path, name, module, args, message):
    import_or_skip_desktop(module)  # bearing-convert and bearing-bench need their desktop extras
    (tmp_path / "file").write_text("not a folder\n")
    cmd = _command(name, module) + [a.format(tmp=tmp_path) for a in args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(message.format(tmp=tmp_path)), proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr


def test_bearing_agent_run_imports_none_of_the_other_subcommands():
    """The service's memory: parsing ``run`` must not import status, export, score, install or their deps."""
    code = ("import sys; from edge_agent.cli import main;"
            "from firmware_io.cli_support import build_parser, chosen_subcommand;"
            "build_parser('bearing-agent', '', main.SUBCOMMANDS, 'run').parse_args(['run']);"
            "print(sorted(m for m in sys.modules if m.startswith('edge_agent.cli.') or m in "
            "('edge_agent.export', 'edge_agent.status', 'edge_agent.systemd_unit', 'edge_agent.scoring.bundle')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    # logs: the log set-up the long-running commands share, not a subcommand
    assert proc.stdout.strip() == "['edge_agent.cli.logs', 'edge_agent.cli.main', 'edge_agent.cli.run']"


# --- issue 11 #22: closed pipes, --version, desktop commands on an edge-only install ---

_MANY_LINES = """
import sys, types
from firmware_io.cli_support import main_single
mod = types.ModuleType("fake", "fake: prints a lot")
mod.configure = lambda p: None
def run(args):
    for k in range(200000):
        print(f"line {k}")
mod.run = run
sys.exit(main_single("fake", mod, []))
"""


def test_a_closed_pipe_ends_quietly_with_the_shells_code():
    """``bearing-agent status | head``: no BrokenPipeError traceback, exit 141 like any piped tool."""
    proc = subprocess.Popen([sys.executable, "-c", _MANY_LINES], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline() == b"line 0\n"
    proc.stdout.close()  # what head does after its lines
    err = proc.stderr.read().decode()
    assert proc.wait(60) == 141
    assert "Traceback" not in err and "Exception ignored" not in err and "BrokenPipe" not in err, err


def test_every_command_has_version(capsys):
    with pytest.raises(SystemExit) as done:
        main_single("fake", _module(lambda args: 0), ["--version"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("fake ") and len(out.split()) >= 2
    from edge_agent.cli import main as agent_cli

    with pytest.raises(SystemExit):
        agent_cli.main(["--version"])
    assert capsys.readouterr().out.startswith("bearing-agent ")


def test_the_console_scripts_exist_and_desktop_ones_go_through_the_extra_check():
    import importlib
    import tomllib

    scripts = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())["project"]["scripts"]
    for name, target in scripts.items():
        module, _, function = target.partition(":")
        assert callable(getattr(importlib.import_module(module), function)), name
    for name in ("bearing-train", "bearing-convert", "bearing-bench"):
        assert scripts[name].startswith("firmware_io.cli_support:"), name


@pytest.mark.parametrize("command, blocked, extra", [("bearing-convert", "tensorflow", "train"),
                                                     ("bearing-train", "tensorflow", "train"),
                                                     ("bearing-bench", "rich", "dev")])
def test_a_desktop_command_without_its_extra_says_which_to_install(command, blocked, extra, tmp_path):
    from firmware_io.recordings import ims

    function = command.replace("-", "_")
    # It blocks one package of an installed extra; on an edge-only install (the emulated Pi) the extra is
    # absent altogether, and the command names whichever of its packages it imports first.
    if importlib.util.find_spec(blocked) is None:
        pytest.skip(f"{blocked} is not installed here: nothing to block (an edge-only install)")
    args = (["fit", str(ims.FEATURES_TEST2), "--train-until", "2004-02-15 12:52:39", "--out", str(tmp_path / "m")]
            if command == "bearing-train" else [str(tmp_path / "m")])
    if command == "bearing-convert":  # its files are there (bearing-convert checks them before importing TensorFlow)
        from train.model_dir import REQUIRED

        (tmp_path / "m").mkdir()
        for name in REQUIRED:
            (tmp_path / "m" / name).write_text("")
        args += ["--out", str(tmp_path / "bundle")]
    code = (f"import sys\nsys.modules[{blocked!r}] = None  # an edge-only install: import fails\n"
            f"sys.argv = [{command!r}, *{args!r}]\n"
            f"from firmware_io import cli_support\nsys.exit(cli_support.{function}())\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"{command}: error: {command} needs the [{extra}] extra ({blocked} ")
    assert f"pip install 'bearing-edge[{extra}]'" in result.stderr and "Traceback" not in result.stderr


# --- issue 11 #22 (e): one convention of exit codes, documented, and what every error class uses ---

DOCS_CLI = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def _documented_codes() -> set[int]:
    import re

    return {int(m) for m in re.findall(r"^\| (\d+) \|", DOCS_CLI.read_text(), flags=re.M)}


def _error_classes() -> set[type]:
    """Every BearingEdgeError subclass in the kit's packages (a package that cannot import here is skipped)."""
    import importlib
    import pkgutil

    for package in ("firmware_io", "edge_agent", "train", "convert"):
        for info in pkgutil.walk_packages(importlib.import_module(package).__path__, package + "."):
            if info.name.endswith("__main__"):
                continue
            try:
                importlib.import_module(info.name)
            except ImportError:  # an optional runtime or extra this machine lacks
                pass
    found, todo = set(), [BearingEdgeError]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in found and sub.__module__.split(".")[0] in ("firmware_io", "edge_agent", "train", "convert"):
                found.add(sub)
                todo.append(sub)
    return found


def test_the_documented_exit_codes_are_the_ones_the_code_uses():
    from firmware_io import cli_support

    assert _documented_codes() == set(cli_support.EXIT_CODES)
    classes = _error_classes()
    assert len(classes) >= 10, classes  # the walk found the kit's errors
    for cls in classes:
        assert cls.exit_code in cli_support.EXIT_CODES, f"{cls.__module__}.{cls.__name__}: exit {cls.exit_code}"
    from edge_agent.journal.schema import JournalUnavailable
    from edge_agent.export import ExportError

    assert JournalUnavailable.exit_code == cli_support.EXIT_TEMPORARY
    assert ExportError.exit_code == cli_support.EXIT_NEGATIVE


def test_the_readme_links_the_convention():
    readme = (DOCS_CLI.parents[1] / "README.md").read_text()
    assert "(docs/cli.md)" in readme


@pytest.mark.parametrize("name, module, args, message", [
    ("bearing-agent", "edge_agent.cli.main", ["stauts"], "bearing-agent: error: argument COMMAND: invalid choice"),
    ("bearing-train", "train.cli", ["fit", "--no-such-option"], "bearing-train fit: error: "),
    ("bearing-convert", "convert.cli", [], "bearing-convert: error: the following arguments are required"),
    ("bearing-replay", "firmware_io.simulator.replay_cli", ["--speed", "fast"], "bearing-replay: error: argument"),
    ("bearing-bench", "benchmarks.cli", ["--no-such-option"], "bearing-bench: error: unrecognized arguments"),
])
def test_a_bad_command_line_is_the_same_prefix_and_code_2_for_every_command(name, module, args, message):
    """argparse's own refusals follow the convention too (its 'usage:' line comes first, then the error)."""
    import_or_skip_desktop(module)  # bearing-convert and bearing-bench need their desktop extras
    proc = subprocess.run(_command(name, module) + args, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("usage: ") and message in proc.stderr.splitlines()[-1], proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_runtime_install_hint_is_a_pasteable_command_with_the_pinned_version(monkeypatch):
    """The hint was ``'pip install tflite-runtime' "numpy<2"``: mismatched quotes and no version."""
    import shlex
    import tomllib

    from edge_agent.scoring import runtime

    pyproject = tomllib.loads((DOCS_CLI.parents[1] / "pyproject.toml").read_text())
    litert_pin = next(d for d in pyproject["project"]["optional-dependencies"]["edge"]
                      if d.startswith("ai-edge-litert==")).split(";")[0].split("==")[1]
    assert runtime.PINNED_VERSIONS["ai-edge-litert"] == litert_pin
    from convert import tflite_env  # the check environment bearing-convert builds installs the same release

    assert f"tflite-runtime=={runtime.PINNED_VERSIONS['tflite-runtime']}" in tflite_env.PACKAGES
    monkeypatch.setattr(runtime.platform, "machine", lambda: "x86_64")
    for name, packages in (("tflite-runtime", [f"tflite-runtime=={runtime.PINNED_VERSIONS['tflite-runtime']}",
                                               "numpy<2"]),
                           ("ai-edge-litert", [f"ai-edge-litert=={litert_pin}"])):
        hint = runtime._install_hint(name)
        command = hint.split(": ", 1)[1]
        assert shlex.split(command) == ["pip", "install", *packages], hint
