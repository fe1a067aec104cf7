"""Every code block of README.md runs, so the README cannot rot.

The ```python blocks run as written, each in a fresh namespace in an empty directory. The
```bash blocks hold ``reglab`` commands; they run in order through the command line (in this
process), in a directory with a small ``data.csv`` that has the columns they name, with
``--epochs 3`` so that they stay fast, and ``STUDY`` replaced by the first stored study. A block
that must not run here (it builds an environment or downloads) says so on the line before its
fence: ``<!-- readme-test: not run (why) -->``. Any other python or bash block that cannot be
run is a failure, and so is a block whose code fails.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

README = Path(__file__).resolve().parents[1] / "README.md"
MARKER = re.compile(r"^<!-- readme-test: not run \((?P<why>[^)]+)\) -->$")
FENCE = re.compile(r"^```(?P<lang>[\w-]*)\n(?P<code>.*?)^```$", re.MULTILINE | re.DOTALL)
RUN = ("python", "bash")
EPOCHS = "3"
TRIALS = "4"


@dataclass(frozen=True)
class Block:
    """A fenced code block: its language, code, first line in the file and skip reason."""

    lang: str
    code: str
    line: int
    skip: str | None

    @property
    def id(self) -> str:
        return f"{self.lang}-line-{self.line}"


def blocks(text: str) -> list[Block]:
    """The fenced blocks of ``text``, each with the marker of the line before it, if any.

    >>> fence = "`" * 3
    >>> text = (f"<!-- readme-test: not run (slow) -->\\n{fence}bash\\nmake\\n{fence}\\n"
    ...         f"{fence}python\\nx = 1\\n{fence}\\n")
    >>> [(b.lang, b.line, b.skip) for b in blocks(text)]
    [('bash', 2, 'slow'), ('python', 5, None)]
    """
    out = []
    for m in FENCE.finditer(text):
        before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = MARKER.match(before.strip())
        line = text.count("\n", 0, m.start()) + 1
        out.append(Block(m["lang"], m["code"], line, marker["why"] if marker else None))
    return out


def commands(code: str) -> list[list[str]]:
    """The ``reglab`` commands of a bash block, as argument lists without ``reglab``.

    Continuation lines are joined and comments dropped; any other command is an error (mark
    the block as not run instead).

    >>> commands("reglab show   # all\\nreglab bench d.csv \\\\\\n    --epochs 9\\n")
    [['show'], ['bench', 'd.csv', '--epochs', '9']]
    """
    out = []
    for line in code.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        if not words:
            continue
        if words[0] != "reglab":
            raise ValueError(
                f"not a reglab command: {line.strip()!r}; run it in the test or mark the block "
                "with <!-- readme-test: not run (why) -->"
            )
        out.append(words[1:])
    return out


def small(argv: list[str]) -> list[str]:
    """``bench``, ``path``, ``fit`` and ``tune`` with ``--epochs 3`` (and ``tune`` with
    ``--trials 4``): the given value replaced, or the option added.

    >>> small(["bench", "d.csv", "--epochs", "200"]), small(["show"])
    (['bench', 'd.csv', '--epochs', '3'], ['show'])
    >>> small(["tune", "d.csv", "--trials", "100"])
    ['tune', 'd.csv', '--trials', '4', '--epochs', '3']
    """
    if not argv or argv[0] not in ("bench", "path", "fit", "tune"):
        return list(argv)
    argv = _set(argv, "--epochs", EPOCHS)
    return _set(argv, "--trials", TRIALS) if argv[0] == "tune" else argv


def _set(argv: list[str], option: str, value: str) -> list[str]:
    if option in argv:
        i = argv.index(option)
        return [*argv[: i + 1], value, *argv[i + 2 :]]
    return [*argv, option, value]


def write_data(folder: Path) -> Path:
    """``data.csv`` with the columns the README's commands name (``label``, ``id``,
    ``leaky_col``): 120 rows, a binary target that depends on two of four features."""
    rng = np.random.default_rng(0)
    n = 120
    x = rng.normal(size=(n, 4))
    label = (x[:, 0] + 0.5 * x[:, 1] + rng.normal(0, 0.5, n) > 0).astype(int)
    leaky = np.where(rng.random(n) < 0.8, label, 1 - label)
    colour = rng.choice(["red", "green", "blue"], n)
    lines = ["id,f0,f1,f2,f3,colour,leaky_col,label"]
    for i in range(n):
        lines.append(
            f"{1000 + i},{x[i, 0]:.4f},{x[i, 1]:.4f},{x[i, 2]:.4f},{x[i, 3]:.4f},{colour[i]},"
            f"{leaky[i]},{label[i]}"
        )
    path = folder / "data.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_python(block: Block) -> None:
    """Run a python block in a fresh namespace (in the current directory)."""
    code = compile(block.code, f"README.md:{block.line}", "exec")
    exec(code, {"__name__": "__readme__"})  # the README's own code, run as a user would


def first_study(store: Path) -> str:
    from reglab.store import Store

    with Store(store, create=False) as st:
        return st.list_studies()[0].name


def run_commands(block: Block, invoke: Callable[[list[str]], tuple[int, str]]) -> None:
    """Run a bash block's ``reglab`` commands in order; fail on the first non-zero exit."""
    for argv in commands(block.code):
        argv = small(argv)
        if "STUDY" in argv:
            argv = [first_study(Path("reglab.db")) if a == "STUDY" else a for a in argv]
        code, output = invoke(argv)
        assert code == 0, (
            f"README.md:{block.line}: reglab {shlex.join(argv)} exited {code}:\n{output}"
        )


def invoke_cli(argv: list[str]) -> tuple[int, str]:
    from reglab.cli.main import app

    result = CliRunner().invoke(app, argv)
    return result.exit_code, result.output + (repr(result.exception) if result.exception else "")


README_BLOCKS = [b for b in blocks(README.read_text(encoding="utf-8")) if b.lang in RUN]
PYTHON = [b for b in README_BLOCKS if b.lang == "python" and b.skip is None]
BASH = [b for b in README_BLOCKS if b.lang == "bash" and b.skip is None]


def test_every_block_runs_or_says_why_not() -> None:
    assert len(PYTHON) >= 2 and len(BASH) >= 1
    for b in BASH:
        assert commands(b.code), f"README.md:{b.line}: a bash block without a reglab command"
    unmarked_other = [b.line for b in blocks(README.read_text(encoding="utf-8"))
                      if b.lang not in (*RUN, "") and b.skip is None]  # fmt: skip
    assert unmarked_other == [], "blocks in other languages must be marked as not run"


@pytest.mark.parametrize("block", PYTHON, ids=[b.id for b in PYTHON])
def test_python_block_runs(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    run_python(block)


def test_reglab_commands_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_data(tmp_path)
    for block in BASH:
        run_commands(block, invoke_cli)
    assert (tmp_path / "results.json").exists() and (tmp_path / "report.html").exists()
    assert (tmp_path / "model.reglab").exists() and (tmp_path / "predictions.csv").exists()


# -- the checker can fail ------------------------------------------------------------------------


BROKEN = """
```python
import reglab
reglab.bench("builtin:no_such_data")
```

```bash
reglab bench data.csv --target no_such_column
```

```bash
make demo   # not a reglab command, and not marked
```
"""


def test_a_broken_readme_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_data(tmp_path)
    python, bench, other = blocks(BROKEN)
    with pytest.raises(Exception, match="no_such_data"):
        run_python(python)
    with pytest.raises(AssertionError, match=r"README.md:7: reglab bench data.csv --target no_s"):
        run_commands(bench, invoke_cli)
    with pytest.raises(ValueError, match="not a reglab command: 'make demo"):
        commands(other.code)
