"""The package's layout by pipeline stage: each package's docstring says what it may import, and it does no more."""

import ast
import re
from pathlib import Path

import airtf

PACKAGE = Path(airtf.__file__).parent
TOP_MODULES = {"__init__", "api", "errors", "hear", "params"}
"""The only modules outside a stage package."""


def unit_of(module):
    """The package (or top-level module) a dotted airtf module belongs to: airtf.runs.backup -> airtf.runs."""
    return ".".join(module.split(".")[:2])


def units():
    """Every stage package and top-level module, with the file whose docstring states its imports."""
    found = {f"airtf.{path.parent.name}": path for path in PACKAGE.glob("*/__init__.py")}
    found.update({f"airtf.{path.stem}": path for path in PACKAGE.glob("*.py") if path.stem != "__init__"})
    found["airtf"] = PACKAGE / "__init__.py"
    return found


def allowed_imports(path):
    """The modules a docstring's "May import:" paragraph names (nothing for "May import: nothing.")."""
    docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
    match = re.search(r"^May import: (.*?)(?:\n\n|\Z)", docstring, flags=re.M | re.S)
    assert match, f"{path}: its docstring says nothing of what it may import (a 'May import: ...' paragraph)"
    return re.findall(r"airtf(?:\.\w+)+", match.group(1))


def imported_modules(path):
    """Every airtf module ``path`` imports, at module level or inside functions."""
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names if alias.name.split(".")[0] == "airtf")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "airtf":
            if node.module == "airtf":
                imported.update(f"airtf.{alias.name}" for alias in node.names)
            else:
                imported.add(node.module)
    return imported


def module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_only_the_api_errors_and_params_live_outside_a_stage_package():
    assert {path.stem for path in PACKAGE.glob("*.py")} == TOP_MODULES


def test_every_package_and_top_module_states_what_it_may_import():
    for unit, path in units().items():
        for allowed in allowed_imports(path):
            assert unit_of(allowed) in units(), f"{path}: may import {allowed}, which does not exist"


def test_imports_follow_the_stated_directions():
    allowed = {unit: allowed_imports(path) for unit, path in units().items()}
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = module_name(path)
        unit = "airtf" if module == "airtf" else unit_of(module)
        for imported in sorted(imported_modules(path)):
            if unit_of(imported) == unit and unit != "airtf":
                continue
            if not any(imported == name or imported.startswith(f"{name}.") for name in allowed[unit]):
                wrong.append(f"{path.relative_to(PACKAGE.parent)} imports {imported}; {unit} may import "
                             f"{', '.join(allowed[unit]) or 'nothing'}")
    assert not wrong, "\n".join(wrong)


def test_imports_inside_functions_are_seen():
    # the commands import their stage inside main(), so that --help needs no TensorFlow
    assert "airtf.pretrain" in imported_modules(PACKAGE / "cli" / "pretrain.py")
    assert "airtf.classify" in imported_modules(PACKAGE / "cli" / "eval.py")


def test_no_module_imports_private_keras():
    private = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            private += [f"{path.relative_to(PACKAGE.parent)}: {name}" for name in names if name.startswith("keras.src")]
    assert not private, "\n".join(private)
