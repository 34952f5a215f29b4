"""The import rule the plugin guide documents: a plugin imports the core and the *public* module
of the plugins in its manifest's ``depends`` -- never another plugin's private modules, which
may change with any version. Tests may also use a plugin's ``testing`` helpers, and wire in
plugins their own does not depend on (they test the two together)."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PUBLIC = {"public"}
FOR_TESTS = {"public", "testing"}


def _packages() -> dict[str, tuple[Path, str, set[str]]]:
    """name -> (package folder, its own import name, its manifest's depends)."""
    found = {}
    for manifest in [*ROOT.glob("plugins/*/__manifest__.py"), *ROOT.glob("examples/*/*/__manifest__.py")]:
        data = ast.literal_eval(manifest.read_text(encoding="utf-8"))
        folder = manifest.parent
        own = f"plugins.{folder.name}" if folder.parent.name == "plugins" else folder.name
        found[data["name"]] = (folder, own, set(data.get("depends", ())))
    return found


def _imported(tree: ast.AST):
    """(line, dotted module) for every absolute import, ``from a.b import c`` counted as ``a.b.c``
    when ``a.b`` is a plugin package itself (``from plugins.patients import services``)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.count(".") == 1 and node.module.startswith("plugins."):
                for alias in node.names:
                    yield node.lineno, f"{node.module}.{alias.name}"
            else:
                yield node.lineno, node.module


def violations() -> list[str]:
    packages = _packages()
    wrong = []
    for name, (folder, own, depends) in packages.items():
        for path in folder.rglob("*.py"):
            relative = path.relative_to(folder)
            in_tests = "tests" in relative.parts or path.name == "conftest.py"
            for line, module in _imported(ast.parse(path.read_text(encoding="utf-8"))):
                parts = module.split(".")
                if parts[0] != "plugins" or len(parts) < 2 or f"plugins.{parts[1]}" == own:
                    continue
                other, inner = parts[1], parts[2] if len(parts) > 2 else ""
                where = f"{path.relative_to(ROOT)}:{line} imports {module}"
                if in_tests:
                    if inner not in FOR_TESTS:
                        wrong.append(f"{where} (tests use plugins.{other}.public or .testing)")
                elif inner not in PUBLIC:
                    wrong.append(f"{where} (private: use plugins.{other}.public)")
                elif other not in depends:
                    wrong.append(f"{where} ('{other}' is not in {name}'s depends)")
    for path in ROOT.glob("examples/*/tests/*.py"):  # the example's own tests, outside its package
        for line, module in _imported(ast.parse(path.read_text(encoding="utf-8"))):
            parts = module.split(".")
            if parts[0] == "plugins" and len(parts) > 1 and (parts[2] if len(parts) > 2 else "") not in FOR_TESTS:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {module} (tests use .public or .testing)")
    return wrong


def test_plugins_import_only_the_public_modules_of_their_dependencies():
    assert violations() == []


def test_the_scan_sees_a_private_import(tmp_path):
    # The rule is only as good as its scanner: the forms that were used before it must be caught.
    for source in ("from plugins.patients.models import Patient", "from plugins.patients import services",
                   "import plugins.patients.identity", "    from plugins.patients.demo import load as x"):
        tree = ast.parse(source.strip())
        modules = [module for _line, module in _imported(tree)]
        assert modules and all(m.split(".")[2] not in PUBLIC for m in modules), source
    assert [m for _l, m in _imported(ast.parse("from plugins.patients import public as p"))] == ["plugins.patients.public"]
