"""The package order of mgpn_keras: every import (top-level or inside a function, absolute or
relative) goes to the module's own top-level package or to a package of a lower level.

LEVELS below is the one table of that order (docs and reviews point here). A unit is the first
name under `mgpn_keras.` (a subpackage or a top-level module); `mgpn_keras` itself, the package
root, is the unit "__init__". Two different units on the same level may not import each other:
training, serving and extract are siblings that never meet. A half level (0.5, 3.5, 5.5, 9.5)
sits above the whole level before it: where the plan puts two units on one level and one of
them needs the other (config writes through atomic, convert builds the model, retrieval
resolves run folders, the root installs the Keras hook).
"""

from __future__ import annotations

import ast
from pathlib import Path

LEVELS: dict[str, float] = {
    # the atoms: file writing, the version and the collector pause (standard library only),
    # then the configuration with its choice lists, which writes through atomic, and the
    # protocol operations
    "atomic": 0, "version": 0, "gc_pause": 0,
    "config": 0.5, "protocol": 0.5, "grouped_convolution": 0.5,
    "valid_cells": 1,
    "layers": 2, "losses": 2,
    # convert builds the model to run the reference's forward pass: above it
    "model": 3, "registry": 3, "convert": 3.5,
    "datasets": 4,
    # the run folder, then the in-graph retrieval that serving and windowed evaluation both
    # run (MomentRetriever.from_run resolves a run folder)
    "runs": 5, "retrieval": 5.5,
    "evaluation": 6,
    "training": 7, "serving": 7, "extract": 7,
    # what combines level-7 packages: tuning (training), pipelines
    "tuning": 8, "pipelines": 8,
    "cli": 9, "_keras_hook": 9,
    "__init__": 9.5,  # the package root installs the Keras hook and re-exports the public names
}

PACKAGE = Path(__file__).resolve().parent.parent / "mgpn_keras"


def _module_name(path: Path) -> list[str]:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def _imported(node: ast.AST, path: Path) -> list[str]:
    """Dotted names of mgpn_keras modules (or attributes) this import statement reaches."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "mgpn_keras"]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        package = _module_name(path)
        if path.name != "__init__.py":
            package = package[:-1]
        base = package[: len(package) - (node.level - 1)]
        module = ".".join(base + ([node.module] if node.module else []))
    else:
        module = node.module or ""
    if module.split(".")[0] != "mgpn_keras":
        return []
    # `from mgpn_keras import x` reaches the unit x; `from mgpn_keras.a import b` reaches a.
    return [f"{module}.{a.name}" for a in node.names] if module == "mgpn_keras" else [module]


def _unit(dotted: str) -> str:
    parts = dotted.split(".")
    if len(parts) == 1:
        return "__init__"
    name = parts[1]
    # An attribute of the root (`from mgpn_keras import __version__`) is the root itself.
    return name if name in LEVELS else "__init__"


def _file_unit(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    if len(rel.parts) == 1 and rel.name == "__init__.py":
        return "__init__"
    name = rel.parts[0].removesuffix(".py")
    return name


def violations() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).as_posix()
        here = _file_unit(path)
        if here not in LEVELS:
            found.append(f"{rel}: package {here!r} has no level in LEVELS (tests/test_import_order.py)")
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=rel)):
            for dotted in _imported(node, path):
                there = _unit(dotted)
                if there == here or LEVELS[there] < LEVELS[here]:
                    continue
                found.append(f"{rel}:{node.lineno}: `{ast.unparse(node)}`: {here} (level "
                             f"{LEVELS[here]}) may not import {there} (level {LEVELS[there]})")
    return found


def test_every_import_goes_down_the_package_order():
    found = violations()
    assert not found, "imports against the package order:\n" + "\n".join(found)


def test_the_walker_sees_lazy_and_relative_imports():
    # The check itself can fail: a function-level import and a relative import are both seen,
    # from a module of training (level 7) into serving (level 7), and the root is level 9.5.
    source = "def f():\n    from mgpn_keras.serving import export\nfrom ..serving import module\n"
    path = PACKAGE / "training" / "example.py"
    names = [n for node in ast.walk(ast.parse(source)) for n in _imported(node, path)]
    assert sorted(names) == ["mgpn_keras.serving", "mgpn_keras.serving"]
    assert _file_unit(path) == "training" and _unit(names[0]) == "serving"
    assert _unit("mgpn_keras.__version__") == "__init__"
    assert _unit("mgpn_keras.valid_cells.layout") == "valid_cells"
    assert _file_unit(PACKAGE / "__init__.py") == "__init__"


if __name__ == "__main__":
    print("\n".join(violations()) or "no violations")
