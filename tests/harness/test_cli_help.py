"""``--help`` reads as plain text with examples, and every option says what it does."""

from __future__ import annotations

import argparse
import contextlib
import io

import pytest

from tempvl_bench.cli.app import build_parser, main


def _help(*command: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        main([*command, "--help"])
    return out.getvalue()


def _parsers(parser: argparse.ArgumentParser, name: str = "tempvl-bench"):
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {sub_name}")


def test_the_top_level_help_has_a_plain_description_and_examples():
    text = _help()
    assert "``" not in text and "The tempvl-bench command line" not in text
    assert "examples:" in text and "tempvl-bench run --task didemo --demo" in text
    assert "tempvl-bench run --task didemo --demo --limit 8" in _help("run")


def test_every_option_of_every_command_has_help_text():
    undocumented = [f"{name} {action.option_strings or action.dest}"
                    for name, parser in _parsers(build_parser()) for action in parser._actions
                    if not action.help and not isinstance(action, (argparse._HelpAction, argparse._SubParsersAction))]
    assert undocumented == []
    for name, parser in _parsers(build_parser()):
        assert "``" not in parser.format_help(), name


def test_the_options_the_issue_named_say_what_they_do():
    run = " ".join(_help("run").split())
    assert "--limit N evaluate at most N queries: a smoke test" in run
    for option in ("--mode", "--seed", "--device"):
        assert f"{option} " in run
    board = " ".join(_help("leaderboard").split())
    assert "<results>/<task>/<run-id>/results.json" in board and "only this task's runs" in board
