"""The README documents every command, option and config key (as sqlite-utils' test_docs does)."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from crawler import config
from crawler.cli import main

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
COMMANDS = sorted(main.commands)


def test_readme_shows_exactly_the_two_setup_commands():
    setup = README.split("## Set up", 1)[1].split("##", 1)[0]
    block = re.search(r"```sh\n(.*?)```", setup, re.S).group(1)
    assert [line.split()[0:2] for line in block.strip().splitlines()] == [["make", "run"], ["make", "test"]]


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_is_in_the_readme_with_its_options(name):
    assert f"`newswatch {name}" in README
    for param in main.commands[name].params:
        if isinstance(param, click.Option) and not param.hidden:
            assert any(opt in README for opt in param.opts), f"{name} {param.opts} missing from README"


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_help_has_an_example(name):
    ctx = click.Context(main.commands[name], info_name=name, parent=click.Context(main, info_name="newswatch"))
    text = main.commands[name].get_help(ctx)
    assert "Example:" in text and f"newswatch " in text.split("Example:", 1)[1]


@pytest.mark.parametrize("key", [k.name for keys in (config.SETTINGS_KEYS, config.SOURCE_KEYS, config.WATCH_KEYS,
                                                     config.EMAIL_KEYS, config.WEBHOOK_KEYS, config.APPRISE_KEYS)
                                 for k in keys])
def test_every_config_key_is_in_the_readme(key):
    assert f"`{key}`" in README


def test_readme_reference_is_current():
    """The reference tables are generated from the declarations: regenerate them when a key changes."""
    assert config.reference_markdown().strip() in README
