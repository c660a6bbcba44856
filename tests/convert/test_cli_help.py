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
