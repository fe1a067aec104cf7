"""Loading tables: the real files, type and task inference, id-like columns, every bad input."""

from __future__ import annotations

import codecs
import gzip
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reglab.data import Dataset, from_arrays, load_table
from reglab.errors import ConfigError, DataError

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def shared(name: str) -> Path:
    path = DATA / name
    if not path.exists():
        pytest.skip(f"{name} is not in the shared data folder")
    return path


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# --- the real files ------------------------------------------------------------------------


def test_auto_mpg_drops_name_and_reads_question_marks_as_missing() -> None:
    ds = load_table(shared("auto-mpg.csv"), "mpg")
    assert ds.task == "regression"
    assert ds.X.shape == (398, 7)
    assert ds.dropped_columns == (("name", "305 distinct text values in 398 rows"),)
    assert "dropped id-like column 'name' (305 distinct text values in 398 rows)" in ds.notices
    assert ds.numeric_columns == (
        "cylinders", "displacement", "horsepower", "weight", "acceleration", "year", "origin",
    )  # fmt: skip
    assert ds.categorical_columns == ()
    assert int(ds.X["horsepower"].isna().sum()) == 6
    assert ds.y.dtype == np.float64
    assert ds.y[:3].tolist() == [18.0, 15.0, 18.0]


def test_crx_is_binary_with_categoricals_and_missing_values() -> None:
    ds = load_table(shared("crx.csv"), "a16")
    assert ds.task == "binary"
    assert ds.classes == ("+", "-")
    assert ds.X.shape == (690, 15)
    assert ds.categorical_columns == ("a1", "a4", "a5", "a6", "a7", "a9", "a10", "a12", "a13")
    assert ds.numeric_columns == ("a2", "s3", "a8", "a11", "a14", "a15")
    assert ds.dropped_columns == ()
    missing = ds.X.isna().sum()
    assert (missing["a1"], missing["a2"], missing["a14"], missing["a6"]) == (12, 12, 13, 9)
    assert ds.X["a14"].iloc[0] == 202.0  # "00202" is a number
    assert ds.y.dtype == np.int64
    assert np.bincount(ds.y).tolist() == [307, 383]


def test_abalone_rings_is_regression_because_it_has_28_distinct_integers() -> None:
    ds = load_table(shared("abalone.csv"), "rings")
    assert ds.task == "regression"
    assert any("28 distinct values (more than 20)" in n for n in ds.notices)
    assert ds.X.shape == (4177, 8)
    assert ds.categorical_columns == ("sex",)
    assert sorted(ds.X["sex"].unique()) == ["F", "I", "M"]


def test_abalone_rings_as_classification_on_request() -> None:
    ds = load_table(shared("abalone.csv"), "rings", task="classification")
    assert ds.task == "multiclass"
    assert ds.n_classes == 28
    assert ds.classes[:3] == ("1", "2", "3")  # numeric labels sort numerically
    assert ds.classes[-1] == "29"


def test_mice_protein_drops_mouse_id_and_flags_the_leaking_design_columns() -> None:
    ds = load_table(shared("mice-protein.csv"), "class")
    assert ds.task == "multiclass"
    assert ds.n_classes == 8
    assert ds.X.shape == (1080, 80)
    assert ds.dropped_columns == (("MouseID", "1080 distinct text values in 1080 rows"),)
    assert ds.categorical_columns == ("Genotype", "Treatment", "Behavior")
    assert int(ds.X["BCL2_N"].isna().sum()) == 285
    assert any("together determine the target exactly" in n for n in ds.notices)


def test_a_numeric_column_that_alone_predicts_the_target_is_flagged_before_training(
    tmp_path: Path,
) -> None:
    from sklearn.datasets import load_breast_cancer

    bc = load_breast_cancer(as_frame=True)
    frame = bc.frame.rename(columns={"target": "diagnosis"})
    # A lab value recorded after the diagnosis: the target plus small noise.
    rng = np.random.default_rng(0)
    frame.insert(3, "biopsy score", frame["diagnosis"] * 10 + rng.normal(size=len(frame)))
    path = tmp_path / "bc.csv"
    frame.to_csv(path, index=False)
    ds = load_table(path, "diagnosis")
    assert ds.strongest_column is not None and ds.strongest_column[0] == "biopsy score"
    assert ds.strongest_column[1] > 0.98
    assert (
        "'biopsy score' (balanced accuracy 100.0%) alone predicts the target almost perfectly "
        "on held-out rows (possible target leakage); kept: leave it out (--drop 'biopsy score') "
        "if it is unknown at prediction time" in ds.notices
    )
    clean = load_table(path, "diagnosis", drop=["biopsy score"])
    assert not any("leakage" in n for n in clean.notices)
    assert clean.strongest_column is not None and clean.strongest_column[1] < 0.98


def test_shared_tables_raise_no_false_leakage_notice() -> None:
    for name, target in [("auto-mpg.csv", "mpg"), ("abalone.csv", "rings"), ("crx.csv", "a16")]:
        ds = load_table(shared(name), target)
        assert not any("leakage" in n for n in ds.notices), (name, ds.notices)


def test_w1_csv_integer_target_is_multiclass() -> None:
    ds = load_table(shared("w1.csv"), "y")
    assert (ds.task, ds.n_classes, ds.X.shape) == ("multiclass", 7, (2000, 50))
    assert ds.classes == tuple(str(c) for c in range(7))
    assert any("inferred classification" in n for n in ds.notices)


# --- reading ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text"),
    [
        pytest.param("t.csv", "a;b;y\n1;2;u\n3;4;v\n5;6;u\n7;8;v\n", id="semicolon"),
        pytest.param("t.csv", "a\tb\ty\n1\t2\tu\n3\t4\tv\n5\t6\tu\n7\t8\tv\n", id="tab-in-csv"),
        pytest.param("t.tsv", "a\tb\ty\n1\t2\tu\n3\t4\tv\n5\t6\tu\n7\t8\tv\n", id="tsv"),
        pytest.param("t.txt", "a|b|y\n1|2|u\n3|4|v\n5|6|u\n7|8|v\n", id="pipe-txt"),
        pytest.param("t.txt", "a  b   y\n1  2   u\n3  4   v\n5  6   u\n7 8 v\n",
                     id="whitespace-txt"),
        pytest.param("t.csv", '"a","b","y"\n"1","2","u"\n"3","4","v"\n5,6,u\n7,"8",v\n',
                     id="quoted"),
        pytest.param("t.csv", "a,b,y\r\n1,2,u\r\n3,4,v\r\n\r\n5,6,u\r\n7,8,v\r\n",
                     id="crlf-and-blank-line"),
        pytest.param("t.csv", "sep=;\na;b;y\n1;2;u\n3;4;v\n5;6;u\n7;8;v\n", id="excel-sep-line"),
        pytest.param("t.csv", "a,b,y,\n1,2,u,\n3,4,v,\n5,6,u,\n7,8,v,\n",
                     id="trailing-separator"),
        pytest.param("t.csv", "a,b,y\n1,2,u,\n3,4,v,\n5,6,u\n7,8,v\n",
                     id="trailing-separator-in-some-rows"),
        pytest.param("t.csv", "a,b,y,\n1,2,u\n3,4,v\n5,6,u\n7,8,v\n",
                     id="trailing-separator-in-header"),
    ],
)  # fmt: skip
def test_separator_is_sniffed(tmp_path: Path, name: str, text: str) -> None:
    ds = load_table(write(tmp_path, name, text), "y")
    assert ds.feature_names == ("a", "b")
    assert ds.X["b"].tolist() == [2.0, 4.0, 6.0, 8.0]
    assert ds.classes == ("u", "v")


def test_quoted_field_with_the_separator_inside(tmp_path: Path) -> None:
    text = 'x,c,y\n1,"a, b",p\n2,"c",q\n3,"a, b",p\n4,"c",q\n'
    ds = load_table(write(tmp_path, "q.csv", text), "y")
    assert ds.X["c"].tolist() == ["a, b", "c", "a, b", "c"]
    assert ds.notices == ()


@pytest.mark.parametrize("token", ["", "NA", "?", "nan", "NaN", "null", " ? "])
def test_missing_value_tokens(tmp_path: Path, token: str) -> None:
    text = f"x,c,y\n1,a,p\n{token},{token},q\n3,b,p\n4,a,q\n"
    ds = load_table(write(tmp_path, "m.csv", text), "y")
    assert ds.numeric_columns == ("x",)
    assert np.isnan(ds.X["x"].iloc[1])
    assert pd.isna(ds.X["c"].iloc[1])
    assert ds.categorical_columns == ("c",)


def test_parquet_loads_like_the_same_csv(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"n": [1.5, None, 3.0, 4.0] * 3, "c": ["a", "b", None, "a"] * 3, "y": [0, 1] * 6}
    )
    frame.to_parquet(tmp_path / "t.parquet")
    frame.to_csv(tmp_path / "t.csv", index=False)
    pq = load_table(tmp_path / "t.parquet", "y")
    csv = load_table(tmp_path / "t.csv", "y")
    pd.testing.assert_frame_equal(pq.X, csv.X)
    assert pq.y.tolist() == csv.y.tolist()
    assert (pq.task, pq.classes, pq.name) == ("binary", ("0", "1"), "t")


def test_latin1_file_is_read_with_a_notice(tmp_path: Path) -> None:
    path = tmp_path / "l.csv"
    rows = "".join(
        f"{i},{city},{'ab'[i % 2]}\n" for i, city in enumerate(["Montréal", "Zürich"] * 2)
    )
    path.write_bytes(("x,ville,y\n" + rows).encode("latin-1"))
    ds = load_table(path, "y")
    assert ds.X["ville"].tolist() == ["Montréal", "Zürich"] * 2
    assert any("Latin-1" in n for n in ds.notices)


def test_utf8_byte_order_mark_is_not_part_of_the_first_name(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffx,y\n1,a\n2,b\n3,a\n4,b\n".encode())
    assert load_table(path, "y").feature_names == ("x",)


# --- task inference and target encoding --------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "task"),
    [
        pytest.param(["a", "b"] * 10, "binary", id="text-two-classes"),
        pytest.param(["a", "b", "c"] * 10, "multiclass", id="text-three-classes"),
        pytest.param([0, 1] * 10, "binary", id="int-0-1"),
        pytest.param(list(range(4)) * 5, "multiclass", id="int-4-values-20-rows"),
        pytest.param(list(range(5)) * 4, "regression", id="int-too-few-rows-per-value"),
        pytest.param(list(range(21)) * 10, "regression", id="int-21-values"),
        pytest.param(list(range(20)) * 10, "multiclass", id="int-20-values"),
        pytest.param([0.5, 1.0] * 10, "regression", id="non-integer-floats"),
        pytest.param([1.0, 2.0] * 10, "binary", id="integer-valued-floats"),
    ],
)
def test_task_inference(values: list[object], task: str) -> None:
    X = np.arange(2 * len(values), dtype=float).reshape(-1, 2)
    assert from_arrays(X, values).task == task


@pytest.mark.parametrize(
    ("given", "values", "task"),
    [
        pytest.param("classification", [0, 1, 2] * 5, "multiclass", id="classification-3"),
        pytest.param("classification", [0.5, 1.5] * 5, "binary", id="classification-floats"),
        pytest.param("multiclass", [0, 1] * 5, "multiclass", id="multiclass-kept-with-2"),
        pytest.param("regression", [0, 1] * 5, "regression", id="regression-on-request"),
        pytest.param("binary", ["x", "y"] * 5, "binary", id="binary"),
    ],
)
def test_task_on_request(given: str, values: list[object], task: str) -> None:
    ds = from_arrays(np.zeros((len(values), 1)) + np.arange(len(values))[:, None], values,
                     task=given)  # fmt: skip
    assert ds.task == task


def test_class_labels_sort_numerically_and_codes_round_trip() -> None:
    y = [10, 2, 2, 10, 3] * 4
    ds = from_arrays(np.arange(20.0)[:, None], y)
    assert ds.classes == ("2", "3", "10")
    assert [ds.classes[k] for k in ds.y] == [str(v) for v in y]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(["cat", "dog", "emu", "yak"]), min_size=8, max_size=40))
def test_text_classes_round_trip(labels: list[str]) -> None:
    if len(set(labels)) < 2:
        return
    ds = from_arrays(np.arange(len(labels), dtype=float)[:, None] % 3, labels)
    assert ds.classes == tuple(sorted(set(labels)))
    assert [ds.classes[k] for k in ds.y] == labels
    assert ds.y.dtype == np.int64


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=6, max_size=30))
def test_numbers_written_as_text_are_read_back_exactly(values: list[float]) -> None:
    frame = pd.DataFrame({"x": [repr(v) for v in values], "y": ["a", "b"] * (len(values) // 2)
                          + ["a"] * (len(values) % 2)})  # fmt: skip
    frame["k"] = range(len(values))  # a feature that is kept when x is constant
    ds = load_table(frame, "y")
    if len(set(values)) == 1:  # one value in every row: dropped as constant
        assert "x" in dict(ds.dropped_columns)
        return
    assert ds.numeric_columns[0] == "x"
    assert ds.X["x"].tolist() == values


def test_rows_with_missing_target_are_dropped_and_rows_stay_aligned(tmp_path: Path) -> None:
    text = "x,y\n1,a\n2,?\n3,b\n4,\n5,a\n6,b\n"
    ds = load_table(write(tmp_path, "t.csv", text), "y")
    assert ds.X["x"].tolist() == [1.0, 3.0, 5.0, 6.0]
    assert [ds.classes[k] for k in ds.y] == ["a", "b", "a", "b"]
    assert "dropped 2 of 6 rows whose target 'y' is missing" in ds.notices


# --- id-like columns ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "values", "dropped"),
    [
        pytest.param("id", [3, 1, 2, 0, 5, 4], True, id="id-permutation"),
        pytest.param("row_id", [11, 12, 13, 14, 15, 16], True, id="row_id-range"),
        pytest.param("PatientID", [6, 5, 4, 3, 2, 1], True, id="camel-case-id"),
        pytest.param("Unnamed: 0", [0, 1, 2, 3, 4, 5], True, id="pandas-index"),
        pytest.param("id", [1, 5, 9, 2, 3, 4], False, id="id-not-a-range"),
        pytest.param("paid", [0, 1, 2, 3, 4, 5], False, id="name-ending-in-id-letters"),
        pytest.param("count", [0, 1, 2, 3, 4, 5], False, id="range-not-named-like-id"),
        pytest.param("code", ["q", "w", "e", "r", "t", "z"], True, id="all-distinct-text"),
        pytest.param("code", ["q", "q", "e", "e", "t", "t"], False, id="repeated-text"),
    ],
)
def test_id_like_columns(column: str, values: list[object], dropped: bool) -> None:
    frame = pd.DataFrame({column: values, "x": np.arange(6.0), "y": ["a", "b"] * 3})
    ds = load_table(frame, "y")
    assert (column in ds.feature_names) is not dropped
    assert (column in dict(ds.dropped_columns)) is dropped
    assert any(f"id-like column {column!r}" in n for n in ds.notices) is dropped


def test_to_csv_index_column_is_dropped(tmp_path: Path) -> None:
    pd.DataFrame({"x": np.arange(10.0) % 3, "y": ["a", "b"] * 5}).to_csv(tmp_path / "i.csv")
    ds = load_table(tmp_path / "i.csv", "y")
    assert ds.feature_names == ("x",)
    assert ds.dropped_columns[0][0] == "Unnamed: 0"


def test_single_categorical_that_fixes_the_target_is_flagged() -> None:
    frame = pd.DataFrame({"x": np.arange(12.0), "g": ["u", "v", "w"] * 4, "y": ["a", "b", "b"] * 4})
    ds = load_table(frame, "y")
    assert any(
        n.startswith("'g' determines the target exactly (possible target leakage); kept")
        for n in ds.notices
    )
    assert "g" in ds.feature_names


# --- from_arrays ---------------------------------------------------------------------------------


def test_from_arrays_numpy_and_dataframe_agree() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3))
    y = rng.integers(0, 3, size=30)
    a = from_arrays(X, y, feature_names=["p", "q", "r"])
    b = from_arrays(pd.DataFrame(X, columns=["p", "q", "r"]), pd.Series(y, name="label"))
    pd.testing.assert_frame_equal(a.X, b.X)
    assert a.y.tolist() == b.y.tolist() == y.tolist()
    assert (a.target, b.target) == ("target", "label")
    assert isinstance(a, Dataset)
    assert a.source == "arrays"


def test_from_arrays_with_text_features() -> None:
    X = np.array([["a", 1], ["b", 2], ["a", 3], ["b", 4]], dtype=object)
    ds = from_arrays(X, [0, 1, 0, 1], task="binary")
    assert ds.categorical_columns == ("x0",)
    assert ds.numeric_columns == ("x1",)


def test_from_arrays_target_name_never_collides_with_a_feature() -> None:
    frame = pd.DataFrame({"target": np.arange(6.0)})
    ds = from_arrays(frame, [0, 1] * 3)
    assert ds.feature_names == ("target",)
    assert ds.target == "_target"


@pytest.mark.parametrize(
    ("X", "y", "kwargs", "match"),
    [
        pytest.param(np.zeros(5), [0, 1] * 2 + [0], {},
                     r"`X` must be a 2-D array; got shape \(5,\)", id="X-1d"),
        pytest.param(np.zeros((4, 2)), [0, 1, 0], {}, r"`y` must have one value per row of `X` "
                     r"\(4\); got 3\.", id="y-length"),
        pytest.param(np.zeros((4, 2)), np.zeros((4, 1)), {}, r"`y` must be 1-D; got shape \(4, 1\)",
                     id="y-2d"),
        pytest.param(np.zeros((4, 2)), [0, 1] * 2, {"feature_names": ["a"]},
                     r"`feature_names` must have one name per column of `X` \(2\); got 1\.",
                     id="feature-names-length"),
    ],
)  # fmt: skip
def test_from_arrays_bad_shapes(
    X: object, y: object, kwargs: dict[str, object], match: str
) -> None:
    with pytest.raises(DataError, match=r"^from_arrays: " + match):
        from_arrays(X, y, **kwargs)  # type: ignore[arg-type]


# --- bad input: one line naming the file, the column or the parameter ---------------------------

PNG = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + b"\x00" * 17


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        pytest.param("gz.csv", gzip.compress(b"x,y\n1,a\n2,b\n"),
                     r"got 'gz\.csv' \(gzip-compressed data, not text\)\.$", id="gzip"),
        pytest.param("img.csv", PNG, r"got 'img\.csv' \(a PNG image, not text\)\.$", id="png"),
        pytest.param("nul.csv", b"x,y\n1,\x00\x01\x02\n", r"got 'nul\.csv' \(binary data with NUL "
                     r"bytes, not text\)\.$", id="nul-bytes"),
        pytest.param("bin.txt", bytes(range(1, 32)) * 20 + b"\xff\xfe", r"got 'bin\.txt' \(binary "
                     r"data, not text\)\.$", id="control-bytes"),
        pytest.param("e.csv", b"", r"got 'e\.csv' \(an empty file\)\.$", id="empty"),
        pytest.param("w.csv", b"  \n\n \n", r"got 'w\.csv' \(an empty file\)\.$", id="blank"),
        pytest.param("h.csv", b"x,y\n", r"got 'h\.csv' \(a header row and no data rows\)\.$",
                     id="header-only"),
        pytest.param("r.csv", b"x,y\n1,a\n2,b,3\n", r"got 'r\.csv' \(rows of unequal length: "
                     r"line 3 has 3 fields, the header \(line 1\) has 2\)\.$", id="ragged"),
        pytest.param("s.csv", b"x,y\n1,a\n\n2\n3\n", r"got 's\.csv' \(rows of unequal length: "
                     r"line 4 has 1 field, the header \(line 1\) has 2; 1 more row differs\)\.$",
                     id="short-rows"),
        pytest.param("q.csv", b'x,y\n1,a\n2,"b\n3,a\n', r"got 'q\.csv' \(a quote opened on line 3 "
                     r"is never closed\)\.$", id="unclosed-quote"),
        pytest.param("u.csv", b"\xff\xfex\x00,\x00y\x00\n", r"got 'u\.csv' \(not valid UTF-16 "
                     r"\(little-endian, with byte-order mark\) text: truncated data at byte 8\)\.$",
                     id="truncated-utf16"),
        pytest.param("b.csv", codecs.BOM_UTF16_LE + "x,y\n".encode("utf-16-le"),
                     r"got 'b\.csv' \(a header row and no data rows\)\.$", id="utf16-header-only"),
        pytest.param("bad.parquet", b"x,y\n1,2\n", r"got 'bad\.parquet' \(not readable as "
                     r"Parquet", id="not-parquet"),
        pytest.param("e.parquet", b"", r"got 'e\.parquet' \(an empty file\)\.$",
                     id="empty-parquet"),
    ],
)  # fmt: skip
def test_unreadable_files(tmp_path: Path, name: str, content: bytes, match: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError, match=r"^load_table: `source` must be a table with a header row "
                       r"and at least one data row; " + match) as info:  # fmt: skip
        load_table(path, "y")
    assert "\n" not in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    expected = (
        r"^load_table: `source` must be an existing \.csv, \.tsv, \.txt or \.parquet file; "
        r"got '.*nope\.csv' \(no such file\)\.$"
    )
    with pytest.raises(DataError, match=expected):
        load_table(tmp_path / "nope.csv", "y")


def test_directory(tmp_path: Path) -> None:
    (tmp_path / "d.csv").mkdir()
    with pytest.raises(DataError, match=r"got '.*d\.csv' \(a directory\)\.$"):
        load_table(tmp_path / "d.csv", "y")


def test_unsupported_extension(tmp_path: Path) -> None:
    path = write(tmp_path, "t.xlsx", "x,y\n1,2\n")
    with pytest.raises(DataError, match=r"\(unsupported extension '\.xlsx'\)\.$"):
        load_table(path, "y")


@pytest.mark.parametrize(
    ("text", "target", "kwargs", "error", "match"),
    [
        pytest.param("mpg,cyl\n1,2\n", "mgp", {}, DataError,
                     r"`target` must be a column of 't\.csv' \(mpg, cyl\); got 'mgp'\. "
                     r"Did you mean 'mpg'\?$", id="target-missing"),
        pytest.param("x,y\n1,a\n2,a\n3,a\n4,a\n", "y", {}, DataError,
                     r"target `y` of 't\.csv' must have at least 2 classes; got only 'a'\.$",
                     id="one-class"),
        pytest.param("a,b,a,y\n1,2,3,u\n4,5,6,v\n", "y", {}, DataError,
                     r"column names of 't\.csv' must be unique; got 'a' 2 times\.$",
                     id="duplicate-columns"),
        pytest.param("x,z,y\n1,inf,a\n2,-inf,b\n3,4,a\n4,5,b\n", "y", {}, DataError,
                     r"column `z` of 't\.csv' must hold finite numbers within float32's range "
                     r"\(magnitude at most 3\.4e\+38\); got 2 outside it: inf on line 2, -inf on "
                     r"line 3\. Correct or rescale them, or leave the column out \(--drop z\)\.$",
                     id="infinite"),
        pytest.param("x,z,y\n1,,a\n2,?,b\n3,NA,a\n4,,b\n", "y", {}, DataError,
                     r"column `z` of 't\.csv' must have at least one value; got all 4 values "
                     r"missing\. Fill it in, or leave the column out \(--drop z\)\.$",
                     id="all-missing-column"),
        pytest.param("x,y\n1,a\n2,b\n3,a\n4,b\n", "y", {"task": "regression"}, DataError,
                     r"target `y` of 't\.csv' must be numeric for task 'regression'; got text "
                     r"values such as 'a', 'b'\.$", id="text-target-regression"),
        pytest.param("x,y\n1,a\n2,b\n3,c\n4,c\n", "y", {"task": "binary"}, DataError,
                     r"target `y` of 't\.csv' must have exactly 2 classes for task 'binary'; "
                     r"got 3 \('a', 'b', 'c'\)\.$", id="binary-with-3-classes"),
        pytest.param("x,y\n1,a\n2,b\n", "y", {"task": "regresion"}, ConfigError,
                     r"`task` must be one of 'multiclass', 'binary', 'regression', "
                     r"'classification'; got 'regresion'\. Did you mean 'regression'\?$",
                     id="unknown-task"),
        pytest.param("id,y\n0,a\n1,b\n2,a\n3,b\n", "y", {}, DataError,
                     r"'t\.csv' must have at least one usable feature column besides the target "
                     r"'y'; got none \(dropped \['id'\]\)\.$", id="only-an-id-column"),
        pytest.param("y\na\nb\na\nb\n", "y", {}, DataError,
                     r"'t\.csv' must have at least one usable feature column", id="target-only"),
        pytest.param("x,y\n1,\n2,?\n3,NA\n4,\n", "y", {}, DataError,
                     r"target `y` of 't\.csv' must have at least one value; got all 4 values "
                     r"missing\.$", id="target-all-missing"),
        pytest.param("x,z,y\n1,2,a\n2,3,b\n3,4,a\n4,5,b\n", None, {}, ConfigError,
                     r"`target` \(--target\) must name the target column of 't\.csv' \(x, z, "
                     r"y\); got none\.$", id="no-target"),
        pytest.param("x,z,y\n1,2,a\n2,3,b\n3,4,a\n4,5,b\n", "y", {"drop": ["zz"]}, DataError,
                     r"columns to drop \(--drop\) must be feature columns of 't\.csv' \(x, z\); "
                     r"got 'zz'\. Did you mean 'z'\?$", id="drop-unknown-column"),
        pytest.param("x,z,y\n1,2,a\n2,3,b\n3,4,a\n4,5,b\n", "y", {"drop": ["y"]}, DataError,
                     r"columns to drop \(--drop\) must be feature columns of 't\.csv'; got 'y', "
                     r"the target\.$", id="drop-the-target"),
        pytest.param("x,z,y\n1,2,a\n2,3,b\n3,4,a\n4,5,b\n", "y", {"drop": ["x", "z"]},
                     DataError, r"at least one feature column of 't\.csv' must remain; got all 2 "
                     r"dropped \(--drop\)\.$", id="drop-every-feature"),
        pytest.param("x,y\n" + "".join(f"{i},{1e8 + i % 2}\n" for i in range(8)), "y",
                     {"task": "regression"}, DataError,
                     r"target `y` of 't\.csv' must vary by more than float32 rounding for task "
                     r"'regression' \(training runs in float32: its standard deviation must be at "
                     r"least 1e-05 of its largest magnitude, 1e\+08\); got values from 100000000 "
                     r"to 100000001 with standard deviation 0\.5\. Subtract a constant near "
                     r"100000000\.5 from the target first\.$", id="target-constant-in-float32"),
        pytest.param("x,y\n" + "".join(f"{i},{5e9 + 0.01 * i}\n" for i in range(8)), "y",
                     {"task": "regression"}, DataError,
                     r"target `y` .*must vary by more than float32 rounding .*standard deviation "
                     r"0\.0229\.", id="target-spread-below-float32-precision"),
    ],
)  # fmt: skip
def test_bad_columns_and_options(
    tmp_path: Path,
    text: str,
    target: str | None,
    kwargs: dict[str, Any],
    error: type[Exception],
    match: str,
) -> None:
    path = write(tmp_path, "t.csv", text)
    with pytest.raises(error, match=r"^load_table: " + match) as info:
        load_table(path, target, **kwargs)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "column",
    [
        pytest.param([None] * 4, id="none-objects"),
        pytest.param(np.array([np.nan] * 4, dtype=object), id="nan-objects"),
        pytest.param([np.nan] * 4, id="nan-floats"),
        pytest.param(["", " NA", "?", "null"], id="missing-tokens"),
    ],
)
def test_all_missing_dataframe_column(column: object) -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "z": column, "y": ["a", "b"] * 2})
    with pytest.raises(DataError, match=r"^load_table: column `z` of the DataFrame must have at "
                       r"least one value; got all 4 values missing\. Fill it in, or leave the "
                       r"column out \(--drop z\)\.$"):  # fmt: skip
        load_table(frame, "y")


def test_several_bad_columns_are_reported_together(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", "a,b,y\ninf,,u\n1,,v\n2,,u\n3,,v\n")
    with pytest.raises(
        DataError, match=r"column `a` .* 1 outside it: inf on line 2\. .*column `b` .*"
    ):
        load_table(path, "y")


def test_duplicate_columns_of_a_dataframe() -> None:
    frame = pd.DataFrame([[1, 2, "a"], [3, 4, "b"]], columns=["x", "x", "y"])
    with pytest.raises(DataError, match=r"column names of the DataFrame must be unique; got 'x'"):
        load_table(frame, "y")


def test_long_column_lists_are_shortened_in_messages() -> None:
    frame = pd.DataFrame(np.zeros((2, 30)), columns=[f"c{i}" for i in range(30)])
    with pytest.raises(DataError, match=r"\(c0, c1, .*c11, …\); got 'c99'\.") as info:
        load_table(frame, "c99")
    assert "c12" not in str(info.value)


def test_drop_accepts_a_column_that_was_dropped_automatically() -> None:
    frame = pd.DataFrame(
        {"id": [f"row{i}" for i in range(40)], "a": np.arange(40.0), "b": np.arange(40.0) % 7}
    )
    frame["label"] = ["x", "y"] * 20
    ds = load_table(frame, "label")
    assert "id" in {c for c, _ in ds.dropped_columns}
    assert ds.without(["id", "b"]).feature_names == ("a",)


def test_missing_cells_are_counted_in_a_notice() -> None:
    frame = pd.DataFrame({"a": np.arange(40.0), "b": ["u", "v"] * 20, "label": ["x", "y"] * 20})
    frame.loc[[1, 2, 3], "a"] = np.nan
    frame.loc[[5], "b"] = None
    notes = [n for n in load_table(frame, "label").notices if "missing cells" in n]
    assert notes == [
        "4 missing cells in 2 columns will be imputed (median or most frequent value of each "
        "training part): 'a' 3, 'b' 1"
    ]


def test_an_integer_column_of_nearly_distinct_values_is_flagged_but_kept() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"hospital": rng.permutation(40) * 13 + 1000, "a": rng.normal(size=40)})
    frame["label"] = ["x", "y"] * 20
    ds = load_table(frame, "label")
    assert "hospital" in ds.feature_names
    (note,) = [n for n in ds.notices if "identifier" in n]
    assert note.endswith("leave it out with --drop hospital")


def test_a_hospital_number_with_a_few_repeats_is_flagged_and_a_measurement_is_not() -> None:
    # 284 distinct integers in 299 rows (a patient seen twice has one number); auto-mpg's
    # weight (351 distinct in 398 rows, 88%) is a measurement and gets no notice.
    rng = np.random.default_rng(1)
    numbers = rng.choice(np.arange(100_000, 999_999), size=284, replace=False)
    hospital = np.concatenate([numbers, numbers[:15]])
    frame = pd.DataFrame({"hospital number": hospital.astype(float), "a": rng.normal(size=299)})
    frame["label"] = ["x", "y"] * 149 + ["x"]
    ds = load_table(frame, "label")
    assert [n for n in ds.notices if "identifier" in n] == [
        "column 'hospital number' looks like an identifier (284 distinct integers in 299 rows); "
        "it is kept as a feature: if it identifies records, leave it out with --drop 'hospital "
        "number'"
    ]
    cars = load_table(shared("auto-mpg.csv"), "mpg")
    assert not [n for n in cars.notices if "identifier" in n]


# --- constant columns ----------------------------------------------------------------------------


def test_constant_columns_are_dropped_with_their_value_named(tmp_path: Path) -> None:
    text = "a,k,s,m,y\n" + "".join(
        f"{i},3,x,{'' if i == 2 else 7},{'uv'[i % 2]}\n" for i in range(12)
    )
    ds = load_table(write(tmp_path, "c.csv", text), "y")
    assert ds.feature_names == ("a", "m")  # m is constant where filled: missingness may inform
    assert dict(ds.dropped_columns) == {
        "k": "the same value, 3, in every row",
        "s": "the same value, 'x', in every row",
    }
    assert (
        "dropped constant column 'k' (the same value, 3, in every row: it carries no "
        "information)" in ds.notices
    )


def test_positional_arrays_keep_a_constant_column_in_its_place() -> None:
    x = np.column_stack([np.zeros(10), np.arange(10.0)])
    assert from_arrays(x, [0, 1] * 5).feature_names == ("x0", "x1")
    named = from_arrays(x, [0, 1] * 5, feature_names=["zero", "count"])
    assert named.feature_names == ("count",)
