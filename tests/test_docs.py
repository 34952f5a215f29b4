"""The documentation cannot drift from the code: every hook is documented in the plugin author
guide (and nothing else is), every hookspec states its return, every command README.md names exists."""
from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from flask.cli import NoAppException, ScriptInfo

from core import hookspecs
from core.cli import main

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "plugins.md"
README = ROOT / "README.md"


def hook_specs() -> dict:
    """Every function pluggy knows as a hook of core.hookspecs (it marks them with ``hcrm_spec``)."""
    specs = {name: obj for name, obj in vars(hookspecs).items()
             if callable(obj) and hasattr(obj, "hcrm_spec")}
    assert specs, "found no hookspecs in core.hookspecs"
    return specs


def guide_headings() -> list[str]:
    return re.findall(r"^### +`?(\w+)`?\s*$", GUIDE.read_text(encoding="utf-8"), re.MULTILINE)


def reference_headings() -> list[str]:
    """The ``###`` headings of the guide's "Hook reference" section."""
    text = GUIDE.read_text(encoding="utf-8")
    match = re.search(r"^## Hook reference\s*$(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    assert match, "docs/plugins.md has no '## Hook reference' section"
    return re.findall(r"^### +`?(\w+)`?\s*$", match.group(1), re.MULTILINE)


def test_every_hook_is_documented_in_the_hook_reference():
    missing = sorted(set(hook_specs()) - set(reference_headings()))
    assert not missing, f"docs/plugins.md lacks a '### <name>' section under 'Hook reference' for: {missing}"


def test_the_guide_documents_no_hook_that_does_not_exist():
    documented = {h for h in guide_headings() if h.startswith("hcrm_")} | set(reference_headings())
    unknown = sorted(documented - set(hook_specs()))
    assert not unknown, f"docs/plugins.md documents hooks core.hookspecs does not define: {unknown}"


def test_each_hook_is_documented_once():
    headings = reference_headings()
    assert len(headings) == len(set(headings)), f"duplicate hook sections: {headings}"


@pytest.mark.parametrize("name", sorted(hook_specs()))
def test_hookspec_docstring_states_its_return(name):
    doc = (hook_specs()[name].__doc__ or "").strip()
    assert doc, f"{name} has no docstring"
    assert "Return" in doc or "return" in doc, f"the docstring of {name} does not say what it returns"


# -- README commands --------------------------------------------------------------------------
def readme_commands() -> list[str]:
    """``hcrm ...`` in backticks anywhere, plus every command of the "Command line" table
    (where ``db check`` next to ``hcrm db upgrade`` means ``hcrm db check``)."""
    text = README.read_text(encoding="utf-8")
    commands = re.findall(r"`hcrm ([^`]+)`", text)
    table = re.search(r"^## Command line\s*$(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    if table:
        for line in table.group(1).splitlines():
            if line.startswith("|"):
                first_cell = re.split(r"(?<!\\)\|", line.strip().strip("|"))[0]
                commands += [c.removeprefix("hcrm ") for c in re.findall(r"`([^`]+)`", first_cell)]
    return commands


def _no_app():
    raise NoAppException("the README check never builds an app")


def resolve(words: list[str]) -> list[str]:
    """Walk the command words through the click groups; returns the words that do not exist."""
    ctx = click.Context(main, obj=ScriptInfo(create_app=_no_app))
    groups = [(main, ctx)]
    for word in words:
        if word.startswith(("-", "[", "<")) or not re.fullmatch(r"[a-z][\w|\\-]*", word):
            break  # options, [optional] parts and ARGUMENTS end the command path
        alternatives = [w for w in re.split(r"\\?\|", word) if w]
        group, gctx = groups[-1]
        found = {alt: group.get_command(gctx, alt) for alt in alternatives}
        missing = [alt for alt, cmd in found.items() if cmd is None]
        if missing:
            return missing
        command = found[alternatives[0]]
        if not isinstance(command, click.Group):
            break
        groups.append((command, click.Context(command, parent=gctx, info_name=word)))
    return []


def test_readme_commands_exist():
    commands = readme_commands()
    assert len(commands) >= 5, f"found too few `hcrm ...` commands in README.md: {commands}"
    wrong = {c: resolve(c.split()) for c in commands}
    wrong = {c: m for c, m in wrong.items() if m}
    assert not wrong, f"README.md names commands the CLI lacks: {wrong}"


def test_the_readme_check_notices_a_missing_command():
    assert resolve(["plugins", "list"]) == []
    assert resolve(["plugins", "list|enable|frobnicate"]) == ["frobnicate"]
    assert resolve(["nosuch", "thing"]) == ["nosuch"]
