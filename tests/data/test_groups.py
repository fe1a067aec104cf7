"""``--groups``: the grammar, loading the groups, the repeated-measures notice, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reglab.api import load_data
from reglab.data import from_arrays, load_table
from reglab.data.groups import group_hint, parse_groups
from reglab.data.load import with_groups
from reglab.errors import ConfigError, DataError

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def shared(name: str) -> Path:
    path = DATA / name
    if not path.exists():
        pytest.skip(f"{name} is not in the shared data folder")
    return path


@pytest.mark.parametrize(
    ("text", "column", "prefix"),
    [
        ("MouseID", "MouseID", None),
        ("MouseID:prefix=_", "MouseID", "_"),
        (" visit id:prefix=-", "visit id", "-"),
        ("a:b", "a:b", None),  # only ':prefix=' is grammar; other colons belong to the name
    ],
    ids=["column", "prefix", "spaces", "colon-in-name"],
)
def test_the_groups_grammar(text: str, column: str, prefix: str | None) -> None:
    spec = parse_groups(text)
    assert (spec.column, spec.prefix) == (column, prefix)
    assert parse_groups(spec.text) == spec


@pytest.mark.parametrize("text", ["", "  ", ":prefix=_", "MouseID:prefix="])
def test_a_malformed_groups_spec_is_one_line(text: str) -> None:
    with pytest.raises(ConfigError, match=r"^groups: `--groups` must be COL or COL:prefix=SEP"):
        parse_groups(text)


def test_prefix_groups_cut_at_the_last_separator() -> None:
    labels = parse_groups("id:prefix=_").labels(pd.Series(["a_b_1", "a_b_2", "c", "c_9"]))
    assert labels.tolist() == ["a_b", "a_b", "c", "c"]


def test_mice_protein_grouped_by_mouse() -> None:
    ds = load_table(shared("mice-protein.csv"), "class", groups="MouseID:prefix=_")
    assert ds.grouping is not None
    assert ds.grouping.n_groups == 72
    assert np.bincount(ds.grouping.codes).tolist() == [15] * 72
    assert ds.grouping.describe() == "grouped by MouseID prefix (72 groups)"
    assert "MouseID" not in ds.feature_names
    assert ("MouseID", "the groups (--groups)") in ds.dropped_columns
    # a mouse has one class: grouping never splits a class label inside a group
    for g in range(72):
        assert len(np.unique(ds.y[ds.grouping.codes == g])) == 1
    assert not any("--groups" in n for n in ds.notices) and ds.groups_hint is None


def test_mice_protein_without_groups_suggests_them() -> None:
    ds = load_table(shared("mice-protein.csv"), "class")
    hints = [n for n in ds.notices if "--groups" in n]
    assert hints == [
        "column 'MouseID' holds repeated measures: its 1080 values share 72 prefixes before '_' "
        "(15 rows each on average); to keep each subject's rows out of the test part while "
        "others train, split by them with --groups MouseID:prefix=_"
    ]
    assert ds.groups_hint is not None and ds.groups_hint.spec == "MouseID:prefix=_"
    assert ds.groups_hint.notice == hints[0]
    assert ds.leakage is not None
    assert ds.leakage.columns == ("Genotype", "Treatment", "Behavior")


@pytest.mark.parametrize(
    ("name", "target"), [("crx.csv", "a16"), ("abalone.csv", "rings"), ("auto-mpg.csv", "mpg")]
)
def test_no_repeated_measures_notice_on_the_other_shipped_tables(name: str, target: str) -> None:
    ds = load_table(shared(name), target)
    assert not any("--groups" in n for n in ds.notices), ds.notices


def test_a_kept_subject_column_is_flagged_and_unique_ids_are_not() -> None:
    subject = pd.Series(np.repeat([f"s{i}" for i in range(10)], 4), dtype=object)
    hint = group_hint("subject_id", subject, dropped=False)
    assert hint is not None and hint.spec == "subject_id" and "--groups subject_id" in hint.notice
    assert group_hint("patient_age", subject, dropped=False) is None  # not only a subject name
    assert group_hint("subject", pd.Series([f"s{i}" for i in range(40)]), dropped=False) is None
    distinct = pd.Series([f"{i}_{i}" for i in range(40)], dtype=object)  # no shared prefix
    assert group_hint("code", distinct, dropped=True) is None
    days = pd.Series([f"2020-{m:02d}-{d:02d}" for m in range(1, 13) for d in range(1, 29)])
    assert group_hint("date", days, dropped=True) is None  # months are no subjects
    words = pd.Series([f"{w}_x{i}" for w in "abcdef" for i in range(10)], dtype=object)
    assert group_hint("tag", words, dropped=True) is None  # no replicate number


def test_array_groups_and_missing_target_rows() -> None:
    X = np.arange(40.0).reshape(20, 2)
    y = np.array([0.0, 1.0] * 10)
    y[3] = np.nan
    groups = np.repeat(np.arange(5), 4)
    ds = from_arrays(X, y, groups=groups, task="binary")
    assert ds.n_rows == 19 and ds.grouping is not None
    assert np.bincount(ds.grouping.codes).tolist() == [3, 4, 4, 4, 4]
    assert ds.grouping.by == "array"


def test_builtin_data_grouped_by_a_feature_column() -> None:
    ds = load_data("builtin:iris", groups="petal width (cm)")
    assert "petal width (cm)" not in ds.feature_names
    assert ds.grouping is not None and ds.grouping.n_groups == 22


def test_an_unknown_group_column_is_one_line_with_a_suggestion() -> None:
    with pytest.raises(DataError, match=r"`--groups` must name a column .* got 'MouseId'\. "
                       r"Did you mean 'MouseID'\?"):  # fmt: skip
        load_table(shared("mice-protein.csv"), "class", groups="MouseId:prefix=_")


@pytest.mark.parametrize(
    ("groups", "match"),
    [
        ("y", "must not be the target"),
        ("g", r"must have a group for every row; got 1 missing values \(first at row 2\)"),
        (np.arange(3), r"one label per row of the DataFrame \(6\); got an array of shape \(3,\)"),
    ],
    ids=["target", "missing", "length"],
)
def test_bad_groups_are_refused(groups: object, match: str) -> None:
    frame = pd.DataFrame(
        {"x": [1.0, 2, 3, 4, 5, 6], "g": ["a", "a", None, "b", "c", "c"], "y": [0, 1] * 3}
    )
    with pytest.raises(DataError, match=match):
        load_table(frame, "y", groups=groups)


def test_with_groups_takes_one_label_per_row_and_keeps_the_features() -> None:
    ds = from_arrays(np.zeros((8, 2)), [0, 1] * 4)
    assert with_groups(ds, None) is ds
    grouped = with_groups(ds, np.repeat(np.arange(4), 2))
    assert grouped.grouping is not None and grouped.feature_names == ("x0", "x1")
