"""``bearing-convert --help`` describes what the command does (issue 11 #22: --default was described wrongly)."""
from __future__ import annotations

import argparse


def test_the_default_variant_help_states_the_rule_choose_default_applies():
    from convert import cli
    from convert.pipeline import DEFAULT_PREFERENCE

    parser = argparse.ArgumentParser()
    cli.configure(parser)
    help_text = next(a.help for a in parser._actions if "--default" in a.option_strings)
    assert "smallest" in help_text and "quantized" in help_text
    assert ", ".join(DEFAULT_PREFERENCE) in help_text


def test_a_bad_command_line_or_model_path_is_answered_before_tensorflow_loads(tmp_path):
    """TensorFlow's import takes seconds and writes absl/oneDNN log lines to stderr on some CPUs:
    argparse's refusal and a missing model directory must come without it (one clean line)."""
    import subprocess
    import sys

    probe = ("import atexit, sys; atexit.register(lambda: print('tensorflow' in sys.modules, file=sys.stderr)); "
             "from convert.cli import main; sys.exit(main(sys.argv[1:]))")
    for args, message in [([], "the following arguments are required"),
                          ([str(tmp_path), "--out", str(tmp_path / "b")], "not a complete model directory")]:
        proc = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, timeout=300)
        lines = proc.stderr.splitlines()
        assert proc.returncode == 2 and message in lines[-2], proc.stderr
        assert lines[-1] == "False", "TensorFlow was imported: " + proc.stderr


def test_baseline_options_without_a_recording_are_refused_before_the_conversion(tmp_path, capsys):
    """Issue 24: --bearing and --baseline-snapshots only mean something with --physics-baseline."""
    from convert.cli import main

    model = tmp_path / "model"
    model.mkdir()
    for name in ("model.keras", "scaler.json", "threshold.json", "metadata.json"):
        (model / name).write_text("{}")
    assert main([str(model), "--out", str(tmp_path / "b"), "--bearing", "ims"]) == 2
    assert "--bearing and --baseline-snapshots go with --physics-baseline RECORDING" in capsys.readouterr().err
