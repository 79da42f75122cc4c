"""Arrows point down: no import cycle between modules, and no import from a higher layer.

The layers are the `layers` block of the README's Layout section: one layer per line, top layer
first, names of packages or modules under `src/sightline/` (`__init__` is the package's own
`__init__.py`); a module may import from its own package and from any name after it, never
from one before it. The import graph is read from the source with `ast`, so nothing is run.
"""

from __future__ import annotations

import ast
import graphlib
from collections.abc import Mapping
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
SOURCE = ROOT / "src" / "sightline"
PACKAGE = "sightline"


@cache
def modules() -> Mapping[str, Path]:
    """Every module of the package by dotted name; a package is its `__init__.py`."""
    found = {}
    for path in sorted(SOURCE.rglob("*.py")):
        parts = path.relative_to(SOURCE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imported_modules(name: str) -> set[str]:
    """The package's modules that `name` imports.

    Every import statement counts: at the top, inside functions (a deferred import hides an
    arrow, it does not remove it) and under `TYPE_CHECKING` (naming a type from a module is
    depending on it). `from package import name` is an arrow to the submodule when `name` is
    one, else to the package; importing a submodule is not counted as importing its parent
    packages, or every package would be in a cycle with its own modules. Backends chosen by
    URL are imported from strings (`backends.py`) and are not seen here.
    """
    path = modules()[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: level 1 is this module's package, 2 its parent, ...
                parent = package.rsplit(".", node.level - 1)[0]
                base = f"{parent}.{base}" if base else parent
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                targets.add(submodule if submodule in modules() else base)
    ours = {target for target in targets if target.split(".")[0] == PACKAGE}
    unknown = ours - modules().keys()
    assert not unknown, f"{name} imports modules that do not exist: {sorted(unknown)}"
    return ours - {name}


@cache
def import_graph() -> Mapping[str, frozenset[str]]:
    """Importer to imported modules."""
    return {name: frozenset(imported_modules(name)) for name in modules()}


@cache
def layer_names() -> tuple[str, ...]:
    """The names of the README's `layers` block, top layer first, left to right."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```layers\n", 1)[1].split("```", 1)[0]
    return tuple(word for line in block.splitlines() for word in line.split("#")[0].split())


def home(module: str) -> str:
    """The layout name a module belongs to: its top package or module under `sightline`."""
    return module.split(".")[1] if "." in module else "__init__"


def rank(module: str) -> int:
    return layer_names().index(home(module))


def test_layers_name_each_package_once() -> None:
    names = layer_names()
    assert len(names) == len(set(names)), "a name appears twice in the README's layers"
    existing = {home(module) for module in modules()}
    assert not set(names) - existing, "the README's layers name packages that do not exist"


def test_every_module_has_a_layer() -> None:
    missing = sorted({home(module) for module in modules()} - set(layer_names()))
    assert not missing, f"add {missing} to the layers block in the README's Layout section"


def test_no_import_cycles() -> None:
    try:
        # graphlib reads the mapping as node -> predecessors; a cycle is a cycle either way.
        graphlib.TopologicalSorter(import_graph()).prepare()
    except graphlib.CycleError as cycle:
        path = " -> ".join(reversed(cycle.args[1]))  # reversed: importer before imported
        pytest.fail(f"import cycle: {path}")


def test_arrows_point_down() -> None:
    upward = [
        f"{importer} ({home(importer)}) imports {imported} ({home(imported)})"
        for importer, targets in sorted(import_graph().items())
        for imported in sorted(targets)
        if rank(imported) < rank(importer)
    ]
    assert not upward, "imports from a higher layer:\n" + "\n".join(upward)
