"""The documentation cannot drift from the code: every hook is documented in the plugin author
guide (and nothing else is), every hookspec states its return, every command README.md names exists,
and every code block of the plugin and API guides that shows the example plugin's code is a
verbatim excerpt of examples/hotline (the plugin CI installs and tests like a third-party one)."""
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


# -- the guides' example plugin: examples/hotline ---------------------------------------------
EXAMPLE = ROOT / "examples" / "hotline"
EXAMPLE_GUIDES = (GUIDE, ROOT / "docs" / "api.md")
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
#: A block's first line naming its file, relative to examples/hotline; a note may follow a colon.
FILE_COMMENT = re.compile(r"#[ \t]*((?:hcrm_hotline|tests)/[\w/.]+\.py|pyproject\.toml)(?::.*)?[ \t]*$")
#: What marks a Python block as the example plugin's code.
HOTLINE_CODE = re.compile(r"\bhotline\b|hcrm_hotline|\bCall\b")


def code_blocks(path: Path) -> list[tuple[str, str, str]]:
    """(``file:line``, language, text) of each fenced code block of a guide."""
    text = path.read_text(encoding="utf-8")
    return [(f"{path.name}:{text.count(chr(10), 0, m.start()) + 1}", m.group(1), m.group(2))
            for m in FENCE.finditer(text)]


def named_file(block: str) -> str | None:
    match = FILE_COMMENT.match(block.split("\n", 1)[0])
    return match.group(1) if match else None


def excerpt_problem(block: str, root: Path = EXAMPLE) -> str | None:
    """Why ``block`` (its first line naming a file of ``root``) is not a verbatim excerpt of that
    file, ignoring leading and trailing blank lines; None when it is."""
    name = named_file(block)
    file = root / name
    if not file.is_file():
        return f"names {name}, which examples/hotline does not have"
    code = block.split("\n", 1)[1].strip("\n") if "\n" in block else ""
    if not code.strip():
        return f"shows no code from {name}"
    if code not in file.read_text(encoding="utf-8"):
        return f"is not an excerpt of {name} any more: update the guide or the file"
    return None


EXCERPTS = [(where, text) for guide in EXAMPLE_GUIDES for where, _lang, text in code_blocks(guide)
            if named_file(text)]


def test_the_guides_show_the_example_plugin():
    assert len(EXCERPTS) >= 20, f"only {len(EXCERPTS)} blocks name a file of examples/hotline"


@pytest.mark.parametrize(("where", "block"), EXCERPTS, ids=[where for where, _block in EXCERPTS])
def test_each_example_block_is_an_excerpt_of_the_example_plugin(where, block):
    problem = excerpt_problem(block)
    assert problem is None, f"the code block at docs/{where} {problem}"


def test_every_python_block_showing_the_example_plugin_names_its_file():
    unnamed = [where for guide in EXAMPLE_GUIDES for where, lang, text in code_blocks(guide)
               if lang == "python" and HOTLINE_CODE.search(text) and not named_file(text)]
    assert not unnamed, ("these Python blocks show the hotline but name no file of examples/hotline "
                         f"on their first line (e.g. '# hcrm_hotline/models.py'): {unnamed}")


def test_the_excerpt_check_notices_drift(tmp_path):
    (tmp_path / "hcrm_hotline").mkdir()
    (tmp_path / "hcrm_hotline" / "models.py").write_text("import sqlalchemy as sa\n\n\nclass Call:\n    pass\n")
    assert excerpt_problem("# hcrm_hotline/models.py\n\nclass Call:\n    pass\n\n", tmp_path) is None
    assert "not an excerpt" in excerpt_problem("# hcrm_hotline/models.py\nclass Call:\n    id = 1\n", tmp_path)
    assert "does not have" in excerpt_problem("# hcrm_hotline/nothing.py\nx = 1\n", tmp_path)
    assert named_file("# hotline/models.py\nx = 1") is None  # not a file of the example: flagged as unnamed
