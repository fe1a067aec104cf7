"""Sequence data: windowing, long-format CSV and .npz, on real data (scikit-learn's digits read
row by row as 8-step sequences of 8 features; statsmodels' yearly sunspots)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_digits

from reglab.data import Preprocessor, load_source
from reglab.data.sequences import windows
from reglab.errors import ConfigError, DataError


def naive_windows(values: np.ndarray, target: np.ndarray, window: int, horizon: int):
    xs, ys = [], []
    t = window
    while t + horizon - 1 < len(values):
        xs.append(values[t - window : t])
        ys.append(target[t + horizon - 1])
        t += 1
    return xs, ys


@settings(max_examples=40, deadline=None)
@given(
    steps=st.integers(1, 30), features=st.integers(1, 3), window=st.integers(1, 8),
    horizon=st.integers(1, 4),
)  # fmt: skip
def test_windows_match_a_plain_loop(steps: int, features: int, window: int, horizon: int) -> None:
    values = np.random.default_rng(steps).normal(size=(steps, features))
    X, y = windows(values, values[:, 0], window=window, horizon=horizon)
    xs, ys = naive_windows(values, values[:, 0], window, horizon)
    assert X.shape == (len(xs), window, features) and y.shape == (len(ys),)
    for got, want in zip(X, xs, strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(y, ys)


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    """The first 120 digits as sequences: 8 time steps (rows) of 8 features (columns)."""
    bunch = load_digits()
    return bunch.images[:120], bunch.target[:120]


def long_csv(path: Path, images: np.ndarray, labels: np.ndarray, dates: bool = False) -> Path:
    """One row per (digit, image row), shuffled; time is the row number or an ISO date."""
    rows = [
        {"digit": f"d{i:03d}", "row": f"2024-01-{t + 1:02d}" if dates else t,
         **{f"c{j}": images[i, t, j] for j in range(8)},
         "label": int(labels[i])}
        for i in range(len(images)) for t in range(8)
    ]  # fmt: skip
    frame = pd.DataFrame(rows).sample(frac=1.0, random_state=0)
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("dates", [False, True], ids=["numbers", "iso-dates"])
def test_long_csv_gives_one_sequence_per_id(tmp_path: Path, digits, dates: bool) -> None:
    images, labels = digits
    path = long_csv(tmp_path / "digits.csv", images, labels, dates)
    ds = load_source(f"seq:{path}?id=digit&time=row", "label")
    assert (ds.kind, ds.shape, ds.task, ds.scaling) == (
        "sequences", (8, 8), "multiclass", "channel"
    )  # fmt: skip
    assert ds.described_shape == "120 sequences of 8 steps × 8 features"
    assert ds.feature_names[:3] == ("c0[0]", "c1[0]", "c2[0]")
    first_seen = [int(d[1:]) for d in pd.unique(pd.read_csv(path)["digit"])]
    np.testing.assert_array_equal(ds.samples(), images[first_seen])  # each sorted by time
    assert [ds.classes[k] for k in ds.y] == [str(v) for v in labels[first_seen]]


def test_npz_sequences(tmp_path: Path, digits) -> None:
    images, labels = digits
    np.savez(tmp_path / "d.npz", x=images, y=labels)
    ds = load_source(f"seq:{tmp_path / 'd.npz'}")
    assert ds.shape == (8, 8) and ds.feature_names[:2] == ("f0[0]", "f1[0]")
    np.testing.assert_array_equal(ds.samples(), images)


def sunspots_csv(path: Path, ids: bool = False) -> Path:
    from statsmodels.datasets import sunspots

    frame = sunspots.load_pandas().data
    if ids:
        frame["half"] = np.where(frame.index < 150, "a", "b")
    frame.iloc[::-1].to_csv(path, index=False)  # newest first: time must order it
    return path


def test_forecasting_windows_equal_the_builtin_sunspots(tmp_path: Path) -> None:
    path = sunspots_csv(tmp_path / "sun.csv")
    ds = load_source(f"seq:{path}?time=YEAR&window=20&values=SUNACTIVITY", "SUNACTIVITY")
    builtin = load_source("builtin:sunspots")
    assert (ds.task, ds.shape, ds.n_rows) == ("regression", (20, 1), 289)
    np.testing.assert_array_equal(ds.samples(), builtin.samples())
    np.testing.assert_array_equal(ds.y, builtin.y)
    assert any("windows overlap" in n for n in ds.notices)


def test_windows_never_cross_ids(tmp_path: Path) -> None:
    path = sunspots_csv(tmp_path / "sun.csv", ids=True)
    ds = load_source(f"seq:{path}?id=half&time=YEAR&window=10&horizon=3&values=SUNACTIVITY",
                     "SUNACTIVITY")  # fmt: skip
    assert ds.n_rows == (150 - 12) + (159 - 12)
    from statsmodels.datasets import sunspots

    series = sunspots.load_pandas().data["SUNACTIVITY"].to_numpy()
    # the file is newest first, so id "b" (years 150…) comes first
    expected_X = [series[150 + i : 160 + i] for i in range(159 - 12)]
    expected_X += [series[i : 10 + i] for i in range(150 - 12)]
    expected_y = [series[162 + i] for i in range(159 - 12)] + [series[12 + i] for i in range(138)]
    np.testing.assert_array_equal(ds.samples()[:, :, 0], np.array(expected_X, dtype=np.float32))
    np.testing.assert_array_equal(ds.y, expected_y)


def test_sequence_features_are_standardized_over_their_steps(tmp_path: Path, digits) -> None:
    images, labels = digits
    np.savez(tmp_path / "d.npz", x=images, y=labels)
    ds = load_source(f"seq:{tmp_path / 'd.npz'}")
    rows = np.arange(80)
    out = Preprocessor.for_dataset(ds).fit_transform(ds.X, rows).reshape(-1, 8, 8)
    train = images[rows]
    assert not train[:, :, 0].any()  # feature 0 is blank in training: mean 0, scale 1, not 1/0
    np.testing.assert_array_equal(out[:, :, 0], images[:, :, 0])
    for j in (2, 5):
        expected = (images[:, :, j] - train[:, :, j].mean()) / train[:, :, j].std()
        np.testing.assert_allclose(out[:, :, j], expected, rtol=1e-5, atol=1e-5)


def rewrite(path: Path, change) -> Path:
    change(pd.read_csv(path)).to_csv(path, index=False)
    return path


def drop_one_step(f: pd.DataFrame) -> pd.DataFrame:
    return f.drop(index=f.index[f["digit"] == "d005"][:1])


def relabel_one_step(f: pd.DataFrame) -> pd.DataFrame:
    f.loc[f.index[f["digit"] == "d002"][0], "label"] = 99
    return f


def text_in_a_cell(f: pd.DataFrame) -> pd.DataFrame:
    f["c3"] = f["c3"].astype(object).where(f.index != 7, "x")
    return f


def same(f: pd.DataFrame) -> pd.DataFrame:
    return f


@pytest.mark.parametrize(
    ("change", "spec", "pattern"),
    [
        (drop_one_step, "?id=digit&time=row",
         r"must have the same number of steps; got 8 for id '.*' and 7 for id 'd005'"),
        (relabel_one_step, "?id=digit&time=row",
         r"must be one label per sequence; got .* for id 'd002' \(on line \d+\)"),
        (text_in_a_cell, "?id=digit&time=row&values=c3,c4",
         r"column `c3` of 'digits.csv' must hold a number .* got 1 others: 'x' on line \d+"),
        (same, "?time=row", r"needs `id` \(\?id=COL\)"),
        (same, "?id=digit&time=rows", r"`time` must be a column .* Did you mean 'row'"),
    ],
    ids=["ragged", "label-varies", "text-cell", "no-id", "typo"],
)  # fmt: skip
def test_bad_long_csv_is_one_line(tmp_path: Path, digits, change, spec: str, pattern: str) -> None:
    path = rewrite(long_csv(tmp_path / "digits.csv", *digits), change)
    with pytest.raises((DataError, ConfigError), match=pattern) as err:
        load_source(f"seq:{path}{spec}", "label")
    assert "\n" not in str(err.value)


def test_a_window_longer_than_the_series_is_refused(tmp_path: Path) -> None:
    path = sunspots_csv(tmp_path / "sun.csv")
    with pytest.raises(DataError, match=r"must be longer than window \+ horizon \(400 \+ 1\); "
                       r"got at most 309 steps"):  # fmt: skip
        load_source(f"seq:{path}?time=YEAR&window=400", "SUNACTIVITY")


def test_forecasting_needs_a_target(tmp_path: Path) -> None:
    path = sunspots_csv(tmp_path / "sun.csv")
    with pytest.raises(ConfigError, match=r"`target` \(--target\) must name the series to "
                       r"forecast in 'sun.csv' \(YEAR, SUNACTIVITY\); got none"):  # fmt: skip
        load_source(f"seq:{path}?time=YEAR&window=5")
