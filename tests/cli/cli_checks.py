"""Checks shared by the command-line tests (importable: pytest puts tests/cli on the path)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any


def digest(path: Path) -> str:
    """The file's sha256, to show it was left unchanged byte for byte."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    """``content`` written to ``tmp_path / name`` (bytes as they are, text as UTF-8)."""
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def assert_one_line_error(result: Any, pattern: str = "") -> str:
    """Exit 2, exactly one ``reglab: error:`` line matching ``pattern``, no traceback."""
    output = result.output
    assert result.exit_code == 2, output
    errors = [line for line in output.splitlines() if line.startswith("reglab: error:")]
    assert len(errors) == 1, output
    assert "Traceback" not in output
    assert re.search(pattern, errors[0]), errors[0]
    return errors[0]
