"""The analysis is a pure function of stored records: no training code at import time."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "reglab"
FILES = [
    SRC / "study" / "results.py",
    SRC / "study" / "path.py",
    SRC / "study" / "path_grid.py",
    *sorted((SRC / "stats").glob("*.py")),
]
FORBIDDEN = ("reglab.engine", "reglab.training", "reglab.layers", "torch", "reglab.api",
             "reglab.study.run", "reglab.study.strategies", "matplotlib")  # fmt: skip


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_training_code_is_imported_at_module_level(path: Path) -> None:
    tree = ast.parse(path.read_text())
    top = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    names = [a.name for n in top if isinstance(n, ast.Import) for a in n.names]
    names += [n.module or "" for n in top if isinstance(n, ast.ImportFrom)]
    assert not [m for m in names if m.startswith(FORBIDDEN)]
