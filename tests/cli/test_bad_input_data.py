"""Every unusable data file given to ``reglab bench`` is one clear line and exit 2, leaving the
store and the file itself intact; messy but readable files run, saying what was decided."""

from __future__ import annotations

import codecs
import errno
import gzip
import json
import os
import re
import shlex
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from reglab.cli.main import app

from .cli_checks import assert_one_line_error, digest

runner = CliRunner()
FAST = ["--epochs", "2", "--cv", "2", "--no-report", "--strategies", "none"]


def invoke(args: list[str]) -> Any:
    """``reglab ARGS`` in a thread, so that a command that blocks (on a pipe) fails instead."""
    results: list[Any] = []
    thread = threading.Thread(target=lambda: results.append(runner.invoke(app, args)), daemon=True)
    thread.start()
    thread.join(timeout=120)
    assert results, f"reglab {' '.join(args)} blocked"
    return results[0]


# --- files ---------------------------------------------------------------------------------------


def table(n: int = 40, *, cells: dict[tuple[int, int], str] | None = None, sep: str = ",") -> str:
    """``a,b,label``: two numeric columns and a two-class target, ``cells[(row, col)]`` replaced."""
    rng = np.random.default_rng(0)
    rows = [[f"{rng.normal():.4f}", f"{rng.normal():.4f}", "xy"[i % 2]] for i in range(n)]
    for (i, j), value in (cells or {}).items():
        rows[i][j] = value
    return sep.join(["a", "b", "label"]) + "\n" + "".join(sep.join(r) + "\n" for r in rows)


def regression(n: int = 40, *, target: Callable[[int], str] = lambda i: f"{i * 0.37:.2f}") -> str:
    return "a,b,t\n" + "".join(f"{i % 7},{(i * 3) % 11},{target(i)}\n" for i in range(n))


Content = str | bytes | Callable[[Path], None]

# name → (file name, content or a function making the file, extra arguments, regex)
CASES: dict[str, tuple[str, Content, list[str], str]] = {
    "huge feature value": (
        "big.csv", table(cells={(5, 0): "1e300"}), ["--target", "label"],
        r"column `a` of 'big\.csv' must hold finite numbers within float32's range .*got 1 "
        r"outside it: 1e\+300 on line 7\. Correct or rescale them, or leave the column out "
        r"\(--drop a\)\.$",
    ),
    "value beyond float64": (
        "inf.csv", table(cells={(2, 1): "-1e400"}), ["--target", "label"],
        r"column `b` of 'inf\.csv' .*float32.*-inf on line 4\. .*\(--drop b\)\.$",
    ),
    "huge regression target": (
        "huge.csv", regression(target=lambda i: "1e300" if i == 9 else f"{i}.5"), ["--target", "t"],
        r"target `t` of 'huge\.csv' must hold finite numbers .*1e\+300 on line 11\.$",
    ),
    "stray word in a numeric column": (
        "abc.csv", table(300, cells={(5, 0): "abc"}), ["--target", "label"],
        r"column `a` of 'abc\.csv' must hold only numbers, as 299 of its 300 filled cells do; got "
        r"1 other: 'abc' on line 7\. .*--drop a\)\.$",
    ),
    "stray decimal comma in a comma file": (
        "comma.csv", table(300, cells={(5, 0): '"1,5"'}), ["--target", "label"],
        r"column `a` of 'comma\.csv' .*'1,5' on line 7\. Write numbers with '\.' as the decimal "
        r"point, without thousands separators",
    ),
    "currency column": (
        "price.csv", table().replace(",x\n", ',"$1,200",x\n').replace(",y\n", ',"$950",y\n')
        .replace("a,b,label", "a,b,price,label"), ["--target", "label"],
        r"column `price` of 'price\.csv' must hold only numbers, as 0 of its 40 filled cells do "
        r"\(40 more are numbers written with a comma, currency or percent sign\); got 40 others: "
        r"'\$1,200' on line 2, '\$950' on line 3, .*--drop price\)\.$",
    ),
    "several stray cells": (
        "many.csv", table(100, cells={(i, 1): "n/a" for i in range(0, 50, 10)}),
        ["--target", "label"], r"column `b` .*got 5 others: 'n/a' on line 2, 'n/a' on line 12, "
        r"'n/a' on line 22 and 2 more\.",
    ),
    "mixed decimal marks in a semicolon file": (
        "mixed.csv", table(60, sep=";", cells={(7, 0): "1,25"}), ["--target", "label"],
        r"column `a` of 'mixed\.csv' .*'1,25' on line 9\.",
    ),
    "stray word in a semicolon file with decimal commas": (
        "semi.csv", table(300, sep=";", cells={(5, 0): "abc"}).replace(".", ","),
        ["--target", "label"],
        r"column `a` of 'semi\.csv' must hold only numbers, as 299 of its 300 filled cells do; "
        r"got 1 other: 'abc' on line 7\. .*--drop a\)\.$",
    ),
    "stray word and a decimal point in a decimal-comma column": (
        "marks.csv", table(300, sep=";", cells={(5, 0): "abc", (9, 0): "1#500"}).replace(".", ",")
        .replace("#", "."), ["--target", "label"],
        r"column `a` of 'marks\.csv' must hold only numbers.*decimal commas are read only in a "
        r"file separated by ';', tab or '\|', in columns that use them throughout\)\. .*--drop a",
    ),
    "regression target constant in float32": (
        "f32.csv", regression(target=lambda i: f"{100_000_000 + i % 2}"),
        ["--target", "t", "--task", "regression"],
        r"target `t` of 'f32\.csv' must vary by more than float32 rounding for task 'regression' "
        r".*got values from 100000000 to 100000001 with standard deviation 0\.5\. Subtract a "
        r"constant near 100000000\.5 from the target first\.$",
    ),
    "regression target varying below float32 precision": (
        "tiny.csv", regression(target=lambda i: f"{5e9 + 0.001 * i:.3f}"), ["--target", "t"],
        r"target `t` of 'tiny\.csv' must vary by more than float32 rounding .*standard "
        r"deviation 0\.0115\.",
    ),
    "no --target": (
        "notgt.csv", table(), [],
        r"`target` \(--target\) must name the target column of 'notgt\.csv' \(a, b, label\); "
        r"got none\.$",
    ),
    "--drop of an unknown column": (
        "dropx.csv", table(), ["--target", "label", "--drop", "c"],
        r"columns to drop \(--drop\) must be feature columns of 'dropx\.csv' \(a, b\); got "
        r"'c'\.$",
    ),
    "--drop of a misspelt column": (
        "dropl.csv", table().replace("a,b,", "alpha,beta,", 1),
        ["--target", "label", "--drop", "alpah"], r"got 'alpah'\. Did you mean 'alpha'\?$",
    ),
    "--drop of the target": (
        "dropt.csv", table(), ["--target", "label", "--drop", "label"],
        r"columns to drop \(--drop\) must be feature columns of 'dropt\.csv'; got 'label', the "
        r"target\.$",
    ),
    "--drop of every feature": (
        "dropall.csv", table(), ["--target", "label", "--drop", "a,b"],
        r"at least one feature column of 'dropall\.csv' must remain; got all 2 dropped "
        r"\(--drop\)\.$",
    ),
    "stray word in the target": (
        "tgt.csv", regression(target=lambda i: "oops" if i == 4 else f"{i}.5"), ["--target", "t"],
        r"target `t` of 'tgt\.csv' must hold only numbers.*'oops' on line 6\. .*drop the row "
        r"\(or, if the values are class labels, ask for --task classification\)\.$",
    ),
    "named pipe": (
        "pipe.csv", lambda p: os.mkfifo(p), ["--target", "label"],
        r"pipe\.csv' \(a named pipe, not a regular file\)\.$",
    ),
    "link to a named pipe": (
        "link.csv", lambda p: (os.mkfifo(p.with_name("fifo")), p.symlink_to(p.with_name("fifo"))),
        ["--target", "label"], r"link\.csv' \(a named pipe, not a regular file\)\.$",
    ),
    "directory": (
        "dir.csv", lambda p: p.mkdir(), ["--target", "label"], r"dir\.csv' \(a directory\)\.$",
    ),
    "broken link": (
        "gone.csv", lambda p: p.symlink_to(p.with_name("nowhere.csv")), ["--target", "label"],
        r"gone\.csv' \(a broken link\)\.$",
    ),
    "single row": (
        "one.csv", "a,b,t\n1,2,3.5\n", ["--target", "t"],
        r"'one\.csv' must have at least 4 data rows .*; got 1\.$",
    ),
    "too few rows with a target": (
        "few.csv", "a,label\n1,x\n2,\n3,y\n4,?\n5,x\n", ["--target", "label"],
        r"at least 4 data rows .*got 3, after dropping 2 with no value for target `label`\.$",
    ),
    "constant regression target": (
        "const.csv", regression(target=lambda i: "2.5"), ["--target", "t"],
        r"target `t` of 'const\.csv' must vary for task 'regression'; got 2\.5 in all 40 rows\.$",
    ),
    "constant integer target as regression": (
        "const7.csv", regression(target=lambda i: "7"), ["--target", "t", "--task", "regression"],
        r"target `t` of 'const7\.csv' must vary .*got 7 in all 40 rows\.$",
    ),
    "one class": (
        "oneclass.csv", table().replace(",y\n", ",x\n"), ["--target", "label"],
        r"target `label` .*at least 2 classes; got only 'x'\.$",
    ),
    "header only": (
        "header.csv", "a,b,label\n", ["--target", "label"],
        r"header\.csv' \(a header row and no data rows\)\.$",
    ),
    "header only in UTF-16": (
        "h16.csv", "a,b,label\r\n".encode("utf-16"), ["--target", "label"],
        r"h16\.csv' \(a header row and no data rows\)\.$",
    ),
    "all target cells missing": (
        "notarget.csv", "a,label\n1,\n2,NA\n3,?\n4,\n", ["--target", "label"],
        r"target `label` of 'notarget\.csv' must have at least one value; got all 4 values",
    ),
    "all-missing feature": (
        "nofeat.csv", table(cells={(i, 1): "" for i in range(40)}), ["--target", "label"],
        r"column `b` of 'nofeat\.csv' must have at least one value",
    ),
    "target with surrounding spaces": (
        "good.csv", table(), ["--target", " label"], r"got ' label'\. Did you mean 'label'\?$",
    ),
    "no header row": (
        "nohead.csv", "1,2,3\n4,5,6\n7,8,9\n1,2,3\n", ["--target", "label"],
        r"is the header row missing\?$",
    ),
    "names equal after stripping": (
        "dup.csv", table().replace("a,b,label", "a, a ,label", 1), ["--target", "label"],
        r"column names of 'dup\.csv' must be unique; got 'a' 2 times\.$",
    ),
    "short row": (
        "short.csv",
        "".join(line if i != 5 else "0.5,x\n" for i, line in enumerate(table().splitlines(True))),
        ["--target", "label"],
        r"rows of unequal length: line 6 has 2 fields, the header \(line 1\) has 3\)\.$",
    ),
    "unclosed quote": (
        "quote.csv", table(cells={(30, 0): '"0.5'}), ["--target", "label"],
        r"quote\.csv' \(a quote opened on line 32 is never closed\)\.$",
    ),
    "truncated UTF-16": (
        "t16.csv", table().encode("utf-16")[:-1], ["--target", "label"],
        r"t16\.csv' \(not valid UTF-16 .*truncated data",
    ),
    "binary with NUL bytes": (
        "bin.csv", bytes(range(256)) * 4, ["--target", "label"],
        r"bin\.csv' \(binary data with NUL bytes, not text\)\.$",
    ),
    "gzip named .csv": (
        "gz.csv", gzip.compress(table().encode()), ["--target", "label"],
        r"gz\.csv' \(gzip-compressed data, not text\)\.$",
    ),
    "workbook named .csv": (
        "book.csv", b"PK\x03\x04" + bytes(60), ["--target", "label"],
        r"book\.csv' \(a zip archive \(an \.xlsx workbook is one\), not text\)\.$",
    ),
    "unsupported extension": (
        "data.json", '{"a": 1}', ["--target", "label"], r"unsupported extension '\.json'",
    ),
}  # fmt: skip


def make(tmp_path: Path, name: str, content: Content) -> Path:
    path = tmp_path / name
    if callable(content):
        content(path)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def fingerprint(path: Path) -> str | None:
    """The sha256 of a regular file's bytes; ``None`` for anything else (not opened)."""
    return digest(path) if path.is_file() else None


@pytest.mark.parametrize("case", list(CASES))
def test_bad_data_is_one_line_exit_2_and_leaves_store_and_file_intact(
    case: str, tmp_path: Path, store: Path
) -> None:
    name, content, args, pattern = CASES[case]
    if callable(content) and "pipe" in case and not hasattr(os, "mkfifo"):
        pytest.skip("no named pipes here")
    data = make(tmp_path, name, content)
    before = (digest(store), fingerprint(data))
    result = invoke(["bench", str(data), *args, *FAST, "--store", str(store)])
    assert_one_line_error(result, pattern)
    assert (digest(store), fingerprint(data)) == before


def levels(n_rows: int, n_levels: int) -> str:
    """``a,c,label``: a numeric column, a categorical one of ``n_levels`` values, two classes."""
    rng = np.random.default_rng(0)
    return "a,c,label\n" + "".join(
        f"{rng.normal():.3f},k{i % n_levels},{'xy'[i % 2]}\n" for i in range(n_rows)
    )


# name → (content, options given after FAST, regex, {module attribute: replacement})
OPTION_CASES: dict[str, tuple[str, list[str], str, dict[str, Any]]] = {
    "memory budget beyond float range": (
        table(), ["--memory-budget-mb", "1e308"],
        r"`memory_budget_mb` \(--memory-budget-mb\) must be at most 1073741824 MiB \(1 PiB\); got "
        r"1e\+308\.$", {},
    ),
    "a hundred million repeats": (
        table(), ["--repeats", "100000000"],
        r"`n_splits` x `n_repeats` \(--cv x --repeats\) must be at most 10,000 splits; got 2 x "
        r"100,000,000 = 200,000,000\.$", {},
    ),
    "a huge --cv": (
        table(), ["--cv", "1000000000000"],
        r"must be at most 10,000 splits; got 1,000,000,000,000 x 1 = 1,000,000,000,000\.$", {},
    ),
    "more members than the limit": (
        table(), ["--split", "bootstrap", "--cv", "10000", "--strategies",
                  "none,l2,l1,dropout,l2=1e-3,l1=1e-3,l2=1e-5,l1=1e-5,dropout=0.2,dropout=0.4,maxnorm"],
        r"a study must have at most 100,000 members \(strategies x splits\); got 11 x 10,000 = "
        r"110,000\. Use fewer strategies, --cv or --repeats\.$", {},
    ),
    "epochs beyond any run": (
        table(), ["--epochs", str(10**23)],
        r"`epochs` \(--epochs\) must be at most 100,000; got 100,000,000,000,000,000,000,000\.$",
        {},
    ),
    "a categorical column over the memory budget": (
        levels(4000, 900), ["--memory-budget-mb", "10"],
        r"one split's encoded input table must fit the memory budget \(--memory-budget-mb, 10 "
        r"MiB\); got 4,000 rows x 901 inputs \(column `c` has 900 levels\), ~14 MiB; leave the "
        r"column out \(--drop c\) or raise the budget\.$", {},
    ),
    "encoded tables beyond the machine's memory": (
        levels(400, 150), [],
        r"the encoded input tables of all 2 splits must fit in the memory available on this "
        r"machine \(~0\.95 MiB\); got 400 rows x 151 inputs \(column `c` has 150 levels\), ~1\.4 "
        r"MiB while encoding; leave the column out \(--drop c\) or use fewer splits "
        r"\(--cv, --repeats\)\.$", {"reglab.study.run.available_memory": lambda device: 10**6},
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(OPTION_CASES))
def test_bad_sizes_are_one_line_exit_2_before_anything_is_allocated(
    case: str, tmp_path: Path, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    content, options, pattern, patches = OPTION_CASES[case]
    for target, value in patches.items():
        monkeypatch.setattr(target, value)
    data = make(tmp_path, "data.csv", content)
    before = (digest(store), digest(data))
    result = invoke(
        ["bench", str(data), "--target", "label", *FAST, *options, "--store", str(store)]
    )
    assert_one_line_error(result, pattern)
    assert (digest(store), digest(data)) == before


SUGGESTS_DROP = [
    "huge feature value", "value beyond float64", "stray word in a numeric column",
    "stray decimal comma in a comma file", "currency column", "several stray cells",
    "mixed decimal marks in a semicolon file", "stray word in a semicolon file with decimal commas",
    "stray word and a decimal point in a decimal-comma column", "all-missing feature",
]  # fmt: skip


@pytest.mark.parametrize("case", SUGGESTS_DROP)
def test_the_drop_a_message_suggests_works(case: str, tmp_path: Path, store: Path) -> None:
    name, content, args, _ = CASES[case]
    data = make(tmp_path, name, content)
    refused = invoke(["bench", str(data), *args, *FAST, "--store", str(store)])
    found = re.search(r"\(--drop ('[^']*'|[^)\s]+)\)", assert_one_line_error(refused))
    assert found, refused.output
    (column,) = shlex.split(found.group(1))
    before = digest(data)
    result = invoke(
        ["bench", str(data), *args, *FAST, "--drop", column, "--store", str(tmp_path / "new.db")]
    )
    assert result.exit_code == 0, result.output
    assert digest(data) == before


def test_the_drop_a_size_message_suggests_works(tmp_path: Path) -> None:
    data = make(tmp_path, "data.csv", levels(4000, 900))
    args = ["bench", str(data), "--target", "label", *FAST, "--memory-budget-mb", "10"]
    refused = invoke([*args, "--store", str(tmp_path / "new.db")])
    assert "(--drop c)" in assert_one_line_error(refused)
    result = invoke([*args, "--drop", "c", "--store", str(tmp_path / "new.db")])
    assert result.exit_code == 0, result.output


@pytest.mark.skipif(not Path("/dev/null").exists(), reason="no /dev/null")
def test_a_device_is_refused(store: Path) -> None:
    before = digest(store)
    result = invoke(["bench", "/dev/null", "--target", "y", *FAST, "--store", str(store)])
    assert_one_line_error(result, r"'/dev/null' \(a character device, not a regular file\)\.$")
    assert digest(store) == before


def test_permission_denied_is_one_line(
    tmp_path: Path, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = make(tmp_path, "locked.csv", table())
    before = (digest(store), digest(data))

    def denied(self: Path) -> bytes:
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    with monkeypatch.context() as patch:
        patch.setattr(Path, "read_bytes", denied)
        result = invoke(["bench", str(data), "--target", "label", *FAST, "--store", str(store)])
    assert_one_line_error(result, r"locked\.csv' \(cannot be read: permission denied\)\.$")
    assert (digest(store), digest(data)) == before


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_chmod_000_is_one_line(tmp_path: Path, store: Path) -> None:
    data = make(tmp_path, "locked.csv", table())
    data.chmod(0)
    try:
        result = invoke(["bench", str(data), "--target", "label", *FAST, "--store", str(store)])
        assert_one_line_error(result, r"locked\.csv' \(cannot be read: permission denied\)\.$")
    finally:
        data.chmod(0o644)


# --- messy but readable files run --------------------------------------------------------------

READABLE: dict[str, tuple[bytes, str]] = {
    "utf-16-le-bom": (
        codecs.BOM_UTF16_LE + table().encode("utf-16-le"),
        "note: read 'data.csv' as UTF-16 (little-endian, with byte-order mark) text",
    ),
    "utf-16-be-bom": (
        codecs.BOM_UTF16_BE + table().encode("utf-16-be"),
        "note: read 'data.csv' as UTF-16 (big-endian, with byte-order mark) text",
    ),
    "european-csv": (
        table(sep=";").replace(".", ",").encode(),
        "note: read decimal commas as decimal points in 'a', 'b' of 'data.csv'",
    ),
    "cp1252": (
        table().replace("a,b,label", "température €,b,label").encode("cp1252"),
        "note: read 'data.csv' as cp1252 (Windows Latin-1) text, as it is not valid UTF-8",
    ),
    "trailing-separators": (
        table().replace("\n", ",\n").encode(),
        "note: ignored the last column of 'data.csv': it has no name and no values",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(READABLE))
def test_messy_but_readable_files_run_with_a_note(case: str, tmp_path: Path) -> None:
    content, note = READABLE[case]
    data = make(tmp_path, "data.csv", content)
    before = digest(data)
    result = invoke(
        ["bench", str(data), "--target", "label", *FAST, "--store", str(tmp_path / "new.db")]
    )
    assert result.exit_code == 0, result.output
    assert "reglab bench: data: 40 rows x 2 columns (binary, 2 classes)" in result.output
    assert note in result.output
    assert digest(data) == before


def test_the_header_gives_the_inputs_after_encoding(tmp_path: Path) -> None:
    data = make(tmp_path, "data.csv", levels(40, 4))
    result = invoke(
        ["bench", str(data), "--target", "label", *FAST, "--store", str(tmp_path / "new.db")]
    )
    assert result.exit_code == 0, result.output
    assert "data: 40 rows x 2 columns → 5 inputs after encoding (binary, 2 classes)" in (
        " ".join(result.output.split())
    )


def test_a_column_of_too_many_levels_is_left_out_with_a_note(tmp_path: Path) -> None:
    data = make(tmp_path, "data.csv", levels(2400, 1100))
    result = invoke(
        ["bench", str(data), "--target", "label", *FAST, "--store", str(tmp_path / "new.db")]
    )
    assert result.exit_code == 0, result.output
    assert (
        "note: dropped column 'c' (1100 distinct values, more than 1000: one-hot encoding would "
        "add an input for each); fold its rare values together to keep it"
    ) in " ".join(result.output.split())
    assert "2400 rows x 1 columns (binary" in result.output


def test_error_intervals_of_a_heavy_tailed_target_start_at_zero(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    rows = "".join(
        f"{rng.normal():.3f},{rng.normal():.3f},{10 * rng.standard_cauchy():.3f}\n"
        for _ in range(40)
    )
    data = make(tmp_path, "reg.csv", "a,b,t\n" + rows)
    out = tmp_path / "r.json"
    result = invoke(
        ["bench", str(data), "--target", "t", *FAST, "--store", str(tmp_path / "new.db"),
         "--json", str(out)]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    metrics = json.loads(out.read_text())["ranking"][0]["metrics"]
    assert metrics["rmse"]["mean"] - 12.71 * metrics["rmse"]["se"] < 0  # the raw interval would
    assert metrics["rmse"]["ci_low"] == metrics["mae"]["ci_low"] == 0.0
    assert metrics["r2"]["ci_low"] < 0  # an R² may be negative: not clipped
