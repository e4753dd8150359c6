"""The library stays in rooms a newcomer can read: no module of restock/ over 600 lines, no
function over 120 (issue "One house"; split along the seams the code shows, not by count)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "restock"
MAX_FILE_LINES = 600
MAX_FUNCTION_LINES = 120


def _modules() -> list[Path]:
    return sorted(ROOT.rglob("*.py"))


def test_the_walk_sees_the_library():
    names = {p.relative_to(ROOT).as_posix() for p in _modules()}
    assert {"contract.py", "forecasting/nightly.py", "inventory/replay.py"} <= names


def test_no_module_over_600_lines():
    long = {p.relative_to(ROOT).as_posix(): n for p in _modules()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_FILE_LINES}
    assert not long, f"split these along their seams: {long}"


def test_no_function_over_120_lines():
    long = {}
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(ROOT).as_posix()}:{node.name}"] = n
    assert not long, f"cut these into named steps: {long}"
