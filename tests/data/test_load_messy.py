"""Messy but ordinary files: encodings, European CSVs, stray cells, huge numbers, special files.

Each is either read correctly (with a notice saying what was decided) or refused with one line
naming the file, the column and the cells.
"""

from __future__ import annotations

import codecs
import errno
import os
import tempfile
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reglab.data import from_arrays, load_table
from reglab.data._checks import FLOAT32_MAX, MIN_ROWS
from reglab.errors import DataError

TABLE = "a,b,y\n1.5,x,u\n2.5,z,v\n3.5,x,u\n4.5,z,v\n"


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def numbers(n: int, bad: dict[int, str] | None = None) -> str:
    """A ``x,y`` table of ``n`` rows whose column ``x`` holds ``bad[i]`` in data row ``i``."""
    bad = bad or {}
    rows = [f"{bad.get(i, str(i + 0.5))},{'uv'[i % 2]}" for i in range(n)]
    return "x,y\n" + "\n".join(rows) + "\n"


def refused(path: Path | pd.DataFrame, target: str = "y", **kwargs: str) -> str:
    with pytest.raises(DataError) as info:
        load_table(path, target, **kwargs)  # type: ignore[arg-type]
    text = str(info.value)
    assert "\n" not in text
    return text


# --- encodings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoded", "notice"),
    [
        pytest.param(codecs.BOM_UTF8 + TABLE.encode(), None, id="utf-8-bom"),
        pytest.param(TABLE.encode("utf-16"), "UTF-16 (little-endian, with byte-order mark)",
                     id="utf-16-native-bom"),
        pytest.param(codecs.BOM_UTF16_LE + TABLE.encode("utf-16-le"),
                     "UTF-16 (little-endian, with byte-order mark)", id="utf-16-le-bom"),
        pytest.param(codecs.BOM_UTF16_BE + TABLE.encode("utf-16-be"),
                     "UTF-16 (big-endian, with byte-order mark)", id="utf-16-be-bom"),
        pytest.param(codecs.BOM_UTF32_LE + TABLE.encode("utf-32-le"),
                     "UTF-32 (little-endian, with byte-order mark)", id="utf-32-le-bom"),
        pytest.param(codecs.BOM_UTF32_BE + TABLE.encode("utf-32-be"),
                     "UTF-32 (big-endian, with byte-order mark)", id="utf-32-be-bom"),
        pytest.param(TABLE.encode("utf-16-le"), "UTF-16-LE text (no byte-order mark)",
                     id="utf-16-le-no-bom"),
        pytest.param(TABLE.encode("utf-16-be"), "UTF-16-BE text (no byte-order mark)",
                     id="utf-16-be-no-bom"),
    ],
)  # fmt: skip
def test_unicode_encodings_are_read(tmp_path: Path, encoded: bytes, notice: str | None) -> None:
    ds = load_table(write(tmp_path, "t.csv", encoded), "y")
    assert ds.feature_names == ("a", "b")
    assert ds.X["a"].tolist() == [1.5, 2.5, 3.5, 4.5]
    assert ds.X["b"].tolist() == ["x", "z", "x", "z"]
    assert ds.classes == ("u", "v")
    assert [n for n in ds.notices if "read 't.csv' as" in n] == (
        [f"read 't.csv' as {notice}" + ("" if "no byte-order" in notice else " text")]
        if notice
        else []
    )


def test_windows_1252_is_read_with_a_notice(tmp_path: Path) -> None:
    rows = "".join(f"{i},{p},{'ab'[i % 2]}\n" for i, p in enumerate(["5 €", "“q”"] * 2))
    ds = load_table(write(tmp_path, "w.csv", ("x,price,y\n" + rows).encode("cp1252")), "y")
    assert ds.X["price"].tolist() == ["5 €", "“q”"] * 2
    assert "read 'w.csv' as cp1252 (Windows Latin-1) text, as it is not valid UTF-8" in ds.notices


def test_bytes_undefined_in_cp1252_fall_back_to_latin_1(tmp_path: Path) -> None:
    text = b"x,c,y\n1,\x81a,u\n2,b\xe9,v\n3,\x81a,u\n4,b\xe9,v\n"
    ds = load_table(write(tmp_path, "l.csv", text), "y")
    assert ds.X["c"].tolist() == ["\x81a", "bé"] * 2
    assert "read 'l.csv' as Latin-1 (ISO-8859-1) text, as it is not valid UTF-8" in ds.notices


# --- separators and decimal commas ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "separator"),
    [
        pytest.param("e.csv", "a;b;label\n1,5;2,25;x\n2,5;-1,0;y\n3;4,75;x\n,5;1e3;y\n", "';'",
                     id="semicolon"),
        pytest.param("e.csv", "a\tb\tlabel\n1,5\t2,25\tx\n2,5\t-1,0\ty\n3\t4,75\tx\n,5\t1e3\ty\n",
                     "tab", id="tab"),
        pytest.param("e.txt", "a|b|label\n1,5|2,25|x\n2,5|-1,0|y\n3|4,75|x\n,5|1e3|y\n", None,
                     id="pipe-txt"),
        pytest.param("e.csv", "sep=;\na;b;label\n1,5;2,25;x\n2,5;-1,0;y\n3;4,75;x\n,5;1e3;y\n",
                     None, id="excel-sep-line"),
    ],
)  # fmt: skip
def test_european_csv_is_read_with_notices(
    tmp_path: Path, name: str, text: str, separator: str | None
) -> None:
    ds = load_table(write(tmp_path, name, text), "label")
    assert ds.numeric_columns == ("a", "b")
    assert ds.X["a"].tolist() == [1.5, 2.5, 3.0, 0.5]
    assert ds.X["b"].tolist() == [2.25, -1.0, 4.75, 1000.0]
    assert f"read decimal commas as decimal points in 'a', 'b' of {name!r}" in ds.notices
    assert (f"read {name!r} as {separator}-separated" in ds.notices) is (separator is not None)


def test_decimal_commas_are_left_alone_in_text_columns_and_integer_columns(tmp_path: Path) -> None:
    text = "n;c;label\n1;a,b;x\n2;c,d;y\n3;a,b;x\n4;c,d;y\n"
    ds = load_table(write(tmp_path, "e.csv", text), "label")
    assert ds.X["n"].tolist() == [1.0, 2.0, 3.0, 4.0]
    assert ds.X["c"].tolist() == ["a,b", "c,d"] * 2
    assert not any("decimal" in n for n in ds.notices)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-1e12, 1e12, allow_nan=False), min_size=MIN_ROWS, max_size=20))
def test_european_csv_written_by_pandas_reads_back_exactly(values: list[float]) -> None:
    frame = pd.DataFrame({"x": values, "y": (["a", "b"] * len(values))[: len(values)]})
    frame["k"] = range(len(values))  # a feature that is kept when x is constant
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "e.csv"
        frame.to_csv(path, sep=";", decimal=",", index=False)
        ds = load_table(path, "y")
    if len(set(values)) == 1:  # one value in every row: dropped as constant
        assert "x" in dict(ds.dropped_columns)
    else:
        assert ds.X["x"].tolist() == values


# --- stray text in numeric columns ---------------------------------------------------------------


def test_one_stray_word_names_the_column_the_cell_and_its_line(tmp_path: Path) -> None:
    text = refused(write(tmp_path, "s.csv", numbers(30, {5: "abc"})))
    assert text == (
        "load_table: column `x` of 's.csv' must hold only numbers, as 29 of its 30 filled cells "
        "do; got 1 other: 'abc' on line 7. Correct it, leave it empty (missing values are empty, "
        "NA or ?), or leave the column out (--drop x)."
    )


def test_line_numbers_count_blank_lines_and_quoted_line_breaks(tmp_path: Path) -> None:
    body = 'x,c,y\n\n1,"two\nlines",u\n2,a,v\n\n3,b,u\noops,a,v\n' + "".join(
        f"{i},a,{'uv'[i % 2]}\n" for i in range(4, 14)
    )
    assert "'oops' on line 8." in refused(write(tmp_path, "s.csv", body))


def test_many_stray_cells_show_three_and_count_the_rest(tmp_path: Path) -> None:
    bad = {i: f"w{i}" for i in (2, 4, 6, 8, 10)}
    text = refused(write(tmp_path, "s.csv", numbers(60, bad)))
    assert "as 55 of its 60 filled cells do; got 5 others: 'w2' on line 4, 'w4' on line 6, " in text
    assert "'w6' on line 8 and 2 more. Correct them, leave them empty" in text


def test_a_decimal_comma_in_a_comma_separated_file_is_explained(tmp_path: Path) -> None:
    text = refused(write(tmp_path, "s.csv", numbers(30, {3: '"1,5"'})))
    assert "got 1 other: '1,5' on line 5. Write numbers with '.' as the decimal point" in text


def test_a_column_written_with_decimal_commas_throughout_is_refused_in_a_comma_file(
    tmp_path: Path,
) -> None:
    rows = "".join(f'"{i},5",{"uv"[i % 2]}\n' for i in range(10))
    text = refused(write(tmp_path, "s.csv", "x,y\n" + rows))
    assert "as 0 of its 10 filled cells do (10 more are numbers written with a comma" in text
    assert "got 10 others: '0,5' on line 2" in text


def test_mixed_decimal_marks_in_a_semicolon_file_are_refused(tmp_path: Path) -> None:
    rows = "".join(f"{i}.5;{'uv'[i % 2]}\n" for i in range(12))
    text = refused(write(tmp_path, "s.csv", "x;y\n" + rows + "1,5;u\n"))
    assert "column `x` of 's.csv' must hold only numbers, as 12 of its 13" in text
    assert "'1,5' on line 14." in text


@pytest.mark.parametrize(
    ("cells", "shown"),
    [
        pytest.param([f'"${i},{i}00"' for i in range(1, 13)], "'$1,100' on line 2", id="currency"),
        pytest.param([f"{i}%" for i in range(12)], "'0%' on line 2", id="percent"),
        pytest.param([f'"{i},{i}00.5"' for i in range(1, 13)], "'1,100.5' on line 2",
                     id="thousands-separator"),
        pytest.param([f'"({i},000)"' for i in range(1, 13)], "'(1,000)' on line 2",
                     id="accounting-negatives"),
    ],
)  # fmt: skip
def test_a_column_of_formatted_numbers_is_refused(
    tmp_path: Path, cells: list[str], shown: str
) -> None:
    rows = "".join(f"{c},{'uv'[i % 2]}\n" for i, c in enumerate(cells))
    text = refused(write(tmp_path, "f.csv", "x,y\n" + rows))
    assert (
        "must hold only numbers, as 0 of its 12 filled cells do (12 more are numbers written with "
        f"a comma, currency or percent sign); got 12 others: {shown}, "
    ) in text
    assert "Write numbers with '.' as the decimal point, without thousands separators" in text


@pytest.mark.parametrize(
    "cells",
    [
        pytest.param([f"1.{i % 3}.0" for i in range(12)], id="versions"),
        pytest.param([f"10.0.0.{i % 5}" for i in range(12)], id="addresses"),
        pytest.param([f"2024-01-{i % 4 + 10}" for i in range(12)], id="dates"),
    ],
)
def test_number_like_text_that_is_no_number_stays_text(tmp_path: Path, cells: list[str]) -> None:
    rows = "".join(f"{c},{i},{'uv'[i % 2]}\n" for i, c in enumerate(cells))
    ds = load_table(write(tmp_path, "f.csv", "c,x,y\n" + rows), "y")
    assert ds.categorical_columns == ("c",)


@pytest.mark.parametrize("marker", ["", "NA", "?", "nan", " NA "])
def test_missing_markers_are_not_stray(tmp_path: Path, marker: str) -> None:
    ds = load_table(write(tmp_path, "s.csv", numbers(30, {1: marker, 7: marker})), "y")
    assert ds.numeric_columns == ("x",)
    assert int(ds.X["x"].isna().sum()) == 2


def test_below_the_threshold_a_column_is_text(tmp_path: Path) -> None:
    bad = {i: f"w{i % 4}" for i in range(0, 30, 8)}  # 4 of 30 cells: 87 % numbers < 90 %
    _head, *rows = numbers(30, bad).splitlines()
    text = "x,z,y\n" + "".join(r.replace(",", f",{i % 3},") + "\n" for i, r in enumerate(rows))
    ds = load_table(write(tmp_path, "s.csv", text), "y")
    assert "x" not in ds.numeric_columns
    assert "x" in dict(ds.dropped_columns)  # many distinct texts: id-like, as before


def test_at_the_threshold_a_column_is_refused(tmp_path: Path) -> None:
    bad = {i: "w" for i in range(0, 30, 10)}  # 3 of 30 cells: exactly 90 % numbers
    assert "as 27 of its 30 filled cells do; got 3 others" in refused(
        write(tmp_path, "s.csv", numbers(30, bad))
    )


def test_stray_cell_in_a_dataframe_is_located_by_row_index() -> None:
    frame = pd.DataFrame({"x": [*range(9), "abc", 1.5], "y": ["u", "v"] * 5 + ["u"]})
    assert "got 1 other: 'abc' at row index 9." in refused(frame)


def test_stray_cell_in_the_target_says_its_row_is_dropped_when_emptied(tmp_path: Path) -> None:
    rows = "".join(f"{i},{i * 0.37}\n" for i in range(20)) + "20,abc\n"
    text = refused(write(tmp_path, "s.csv", "x,t\n" + rows), "t")
    assert text.startswith("load_table: target `t` of 's.csv' must hold only numbers")
    assert text.endswith(
        "'abc' on line 22. Correct it, or leave it empty to drop the row (or, if the values are "
        "class labels, ask for --task classification)."
    )
    assert refused(write(tmp_path, "s.csv", "x,t\n" + rows), "t", task="regression").endswith(
        "'abc' on line 22. Correct it, or leave it empty to drop the row."
    )


@pytest.mark.parametrize("task", ["classification", "multiclass"])
def test_stray_text_in_a_target_of_class_labels_is_a_class(tmp_path: Path, task: str) -> None:
    rows = "".join(f"{i},{i % 3}\n" for i in range(30)) + "30,3+\n"
    ds = load_table(write(tmp_path, "s.csv", "x,t\n" + rows), "t", task=task)
    assert ds.classes == ("0", "1", "2", "3+")


def test_drop_advice_quotes_a_column_name_with_spaces(tmp_path: Path) -> None:
    text = numbers(30, {2: "abc"}).replace("x,y", "my col,y", 1)
    assert "(--drop 'my col')." in refused(write(tmp_path, "s.csv", text))


# --- numbers beyond float32 ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        pytest.param("1e300", "1e+300", id="huge"),
        pytest.param("-4e38", "-4e+38", id="just-beyond"),
        pytest.param("1e400", "inf", id="beyond-float64"),
    ],
)
def test_numbers_beyond_float32_are_refused(tmp_path: Path, cell: str, shown: str) -> None:
    text = refused(write(tmp_path, "h.csv", numbers(10, {4: cell})))
    assert text == (
        "load_table: column `x` of 'h.csv' must hold finite numbers within float32's range "
        f"(magnitude at most 3.4e+38); got 1 outside it: {shown} on line 6. Correct or rescale "
        "them, or leave the column out (--drop x)."
    )


def test_the_largest_float32_is_accepted(tmp_path: Path) -> None:
    ds = load_table(write(tmp_path, "h.csv", numbers(10, {4: repr(FLOAT32_MAX)})), "y")
    assert ds.X["x"].iloc[4] == FLOAT32_MAX


def test_a_huge_regression_target_is_refused(tmp_path: Path) -> None:
    rows = "".join(f"{i},{1e300 if i == 3 else i * 0.5}\n" for i in range(30))
    text = refused(write(tmp_path, "h.csv", "x,t\n" + rows), "t")
    assert text.startswith("load_table: target `t` of 'h.csv' must hold finite numbers")
    assert text.endswith("got 1 outside it: 1e+300 on line 5.")


def test_huge_values_in_arrays_are_located_by_row_index() -> None:
    X = np.arange(20.0).reshape(10, 2)
    X[7, 1] = 1e39
    with pytest.raises(DataError, match=r"column `x1` of the arrays .* 1e\+39 at row index 7\. "):
        from_arrays(X, [0, 1] * 5)
    assert from_arrays(X, [0, 1] * 5, drop=["x1"]).feature_names == ("x0",)


# --- special and unreadable files ----------------------------------------------------------------


def load_soon(path: Path) -> BaseException | None:
    """Load ``path`` in a thread, so that a file that blocks fails the test instead of hanging."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            load_table(path, "y")
            outcome.append(None)
        except BaseException as err:
            outcome.append(err)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=20)
    assert outcome, f"loading {path} blocked"
    return outcome[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_named_pipe_is_refused_without_opening_it(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "x.csv")
    err = load_soon(tmp_path / "x.csv")
    assert isinstance(err, DataError)
    assert str(err).endswith(f"got {str(tmp_path / 'x.csv')!r} (a named pipe, not a regular file).")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_link_to_a_named_pipe_is_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "x.csv").symlink_to(tmp_path / "pipe")
    err = load_soon(tmp_path / "x.csv")
    assert isinstance(err, DataError)
    assert "(a named pipe, not a regular file)" in str(err)


def test_a_link_to_a_file_is_followed(tmp_path: Path) -> None:
    (tmp_path / "x.csv").symlink_to(write(tmp_path, "real.csv", numbers(8)))
    assert load_table(tmp_path / "x.csv", "y").n_rows == 8


def test_a_broken_link_is_named(tmp_path: Path) -> None:
    (tmp_path / "x.csv").symlink_to(tmp_path / "gone.csv")
    assert refused(tmp_path / "x.csv").endswith("(a broken link).")


@pytest.mark.skipif(not Path("/dev/null").exists(), reason="no /dev/null")
def test_a_device_is_refused() -> None:
    assert refused(Path("/dev/null")).endswith(
        "got '/dev/null' (a character device, not a regular file)."
    )


def test_permission_denied_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "p.csv", numbers(8))

    def denied(self: Path) -> bytes:
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", denied)
    assert refused(path) == (
        f"load_table: `source` must be a readable file; got {str(path)!r} (cannot be read: "
        "permission denied)."
    )


def test_other_read_errors_name_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "p.csv", numbers(8))

    def broken(self: Path) -> bytes:
        raise OSError(errno.EIO, "Input/output error", str(self))

    monkeypatch.setattr(Path, "read_bytes", broken)
    assert refused(path).endswith("(cannot be read: Input/output error).")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "p.csv", numbers(8))
    path.chmod(0)
    try:
        assert refused(path).endswith("(cannot be read: permission denied).")
    finally:
        path.chmod(0o644)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any folder")
def test_a_file_in_an_unsearchable_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    path = write(folder, "p.csv", numbers(8))
    folder.chmod(0)
    try:
        assert refused(path).endswith("(cannot be read: permission denied).")
    finally:
        folder.chmod(0o755)


# --- rows and targets ----------------------------------------------------------------------------


def test_a_single_row_is_refused_with_the_minimum(tmp_path: Path) -> None:
    assert refused(write(tmp_path, "one.csv", "a,b,t\n1,2,3.5\n"), "t") == (
        "load_table: 'one.csv' must have at least 4 data rows (the smallest study, 2-fold "
        "cross-validation, trains on 2 rows per fold: one to fit, one to validate); got 1."
    )


def test_rows_without_a_target_do_not_count(tmp_path: Path) -> None:
    text = "x,y\n1,a\n2,\n3,b\n4,?\n5,a\n"
    assert refused(write(tmp_path, "t.csv", text)).endswith(
        "got 3, after dropping 2 with no value for target `y`."
    )


def test_the_minimum_is_enough(tmp_path: Path) -> None:
    assert load_table(write(tmp_path, "t.csv", "x,y\n1,a\n2,b\n3,a\n4,b\n"), "y").n_rows == MIN_ROWS


def test_arrays_need_the_minimum_too() -> None:
    with pytest.raises(DataError, match=r"^from_arrays: the arrays must have at least 4 data rows"):
        from_arrays(np.zeros((3, 2)), [0, 1, 0])


@pytest.mark.parametrize(
    ("values", "task", "match"),
    [
        pytest.param(["2.5"] * 8, None, r"must vary for task 'regression'; got 2\.5 in all 8 "
                     r"rows\.$", id="float-constant"),
        pytest.param(["7"] * 8, "regression", r"must vary for task 'regression'; got 7 in all 8 "
                     r"rows\.$", id="integer-constant-as-regression"),
        pytest.param(["7"] * 8, None, r"must have at least 2 classes; got only '7'\.$",
                     id="integer-constant-inferred"),
        pytest.param(["u"] * 8, None, r"must have at least 2 classes; got only 'u'\.$",
                     id="one-text-class"),
        pytest.param(["2.5"] * 7 + [""], None, r"must vary .* got 2\.5 in all 7 rows\.$",
                     id="constant-apart-from-missing"),
    ],
)  # fmt: skip
def test_a_target_that_does_not_vary_is_refused(
    tmp_path: Path, values: list[str], task: str | None, match: str
) -> None:
    text = "x,t\n" + "".join(f"{i},{v}\n" for i, v in enumerate(values))
    kwargs = {"task": task} if task else {}
    with pytest.raises(DataError, match=r"^load_table: target `t` of 'c\.csv' " + match):
        load_table(write(tmp_path, "c.csv", text), "t", **kwargs)


# --- headers -------------------------------------------------------------------------------------


def test_header_names_lose_spaces_and_byte_order_marks(tmp_path: Path) -> None:
    text = "\ufeff\ufeff a , \ufeffb\t, y \n1,2,u\n3,4,v\n5,6,u\n7,8,v\n"
    ds = load_table(write(tmp_path, "h.csv", text.encode()), "y")
    assert ds.feature_names == ("a", "b")


def test_names_equal_after_stripping_are_duplicates(tmp_path: Path) -> None:
    text = refused(write(tmp_path, "h.csv", "a, a ,y\n1,2,u\n3,4,v\n5,6,u\n7,8,v\n"))
    assert text.endswith("column names of 'h.csv' must be unique; got 'a' 2 times.")


def test_a_missing_header_row_is_hinted(tmp_path: Path) -> None:
    text = refused(write(tmp_path, "h.csv", "1,2,3\n4,5,6\n7,8,9\n"), "y")
    assert text.endswith("got 'y'. Its first line holds only numbers: is the header row missing?")


def test_an_unnamed_empty_last_column_is_ignored(tmp_path: Path) -> None:
    text = "a,b,y,\n1,2,u,\n3,4,v,\n5,6,u,\n7,8,v,\n"
    ds = load_table(write(tmp_path, "h.csv", text), "y")
    assert ds.feature_names == ("a", "b")
    assert "ignored the last column of 'h.csv': it has no name and no values" in ds.notices


def test_an_unnamed_last_column_with_values_is_kept(tmp_path: Path) -> None:
    text = "a,y,\n1,u,5\n3,v,9\n5,u,1\n7,v,8\n"
    ds = load_table(write(tmp_path, "h.csv", text), "y")
    assert ds.feature_names == ("a", "Unnamed: 2")
    assert (
        "column 3 of 'h.csv' has no name in the header: named it 'Unnamed: 2' "
        "(--drop 'Unnamed: 2' leaves it out)" in ds.notices
    )


def test_blank_header_names_are_named_with_a_notice(tmp_path: Path) -> None:
    text = "a,,y, \n1,2,u,5\n3,4,v,9\n5,6,u,1\n7,8,v,8\n"
    ds = load_table(write(tmp_path, "h.csv", text), "y")
    assert ds.feature_names == ("a", "Unnamed: 1", "Unnamed: 3")
    assert (
        "columns 2, 4 of 'h.csv' have no name in the header: named them 'Unnamed: 1', "
        "'Unnamed: 3' (--drop 'Unnamed: 1,Unnamed: 3' leaves them out)" in ds.notices
    )
    kept = load_table(write(tmp_path, "k.csv", "a,b,y\n1,2,u\n3,4,v\n5,6,u\n7,8,v\n"), "y")
    assert not any("no name" in n for n in kept.notices)
    dropped = load_table(tmp_path / "h.csv", "y", drop=["Unnamed: 1", "Unnamed: 3"])
    assert dropped.feature_names == ("a",)
