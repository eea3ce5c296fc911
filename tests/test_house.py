"""The house rules that keep the code readable: small modules, short functions.

DESIGN.md and the project's quality rules ask for modules of about 400 lines at most and
functions of about 60 lines at most, except tables and generated code. These tests keep it so:
a module or function that grows past the limit fails here with its name and size, and the fix
is a split along a real seam (or, for data, an entry in the allow-lists below with the reason).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: the product's folders (installed as ``cirahub.<folder>``)
PACKAGES = ("core", "store", "connectors", "actors", "cluster", "control", "proto")

MAX_MODULE_LINES = 420
MAX_FUNCTION_LINES = 60

#: generated code (protobuf stubs, Alembic revisions): not written by hand
GENERATED = ("_pb2.py", "_pb2_grpc.py", "_pb2.pyi", "_pb2_grpc.pyi")
GENERATED_DIRS = ("store/migrations/versions",)
#: functions that are tables (data written as code), by "module path:function name"
TABLE_FUNCTIONS = frozenset({
    "control/demo_data.py:samples",  # the demo's sample calendar, one literal per item
})


def _modules() -> list[Path]:
    out = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if path.name.endswith(GENERATED) or rel.startswith(GENERATED_DIRS):
                continue
            out.append(path)
    return out


def _function_lengths(path: Path) -> list[tuple[str, int, int]]:
    """(qualified name, first line, length in lines with decorators) of every function."""
    out: list[tuple[str, int, int]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                start = min([d.lineno for d in child.decorator_list] + [child.lineno])
                assert child.end_lineno is not None
                out.append((prefix + child.name, child.lineno, child.end_lineno - start + 1))
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(ast.parse(path.read_text(encoding="utf-8"), str(path)), "")
    return out


def test_the_checkers_see_the_product_code():
    names = {p.relative_to(ROOT).as_posix() for p in _modules()}
    assert {"core/plan.py", "actors/spoke.py", "control/cli.py"} <= names
    assert not any("migrations/versions" in n or n.endswith("_pb2.py") for n in names)


def test_no_module_is_longer_than_the_limit():
    too_long = []
    for path in _modules():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_MODULE_LINES:
            too_long.append(f"{path.relative_to(ROOT)}: {lines} lines")
    assert not too_long, f"modules over {MAX_MODULE_LINES} lines (split them): {too_long}"


def test_no_function_is_longer_than_the_limit():
    too_long = []
    for path in _modules():
        rel = path.relative_to(ROOT).as_posix()
        for name, line, length in _function_lengths(path):
            if length > MAX_FUNCTION_LINES and f"{rel}:{name}" not in TABLE_FUNCTIONS:
                too_long.append(f"{rel}:{line} {name}: {length} lines")
    assert not too_long, f"functions over {MAX_FUNCTION_LINES} lines (split them): {too_long}"


def test_the_allow_list_names_only_what_exists():
    """A table function that was removed or renamed must leave the allow-list too."""
    present = {
        f"{p.relative_to(ROOT).as_posix()}:{name}"
        for p in _modules() for name, _, _ in _function_lengths(p)
    }
    assert present >= TABLE_FUNCTIONS
