"""MemberRecord validation and normalization, and the store's float/array encodings."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reglab.errors import ConfigError
from reglab.store import MemberRecord
from reglab.store.schema import (
    array_to_npy,
    decode_floats,
    encode_floats,
    npy_to_array,
)

BASE = {"key": "k", "strategy": "l2", "split_id": 0, "seed": 1, "n_train": 80, "n_test": 20}

INVALID = {
    "empty-key": ({"key": ""}, r"MemberRecord: `key` must be a non-empty string; got ''\."),
    "status": (
        {"status": "ok"},
        r"MemberRecord: `status` must be one of 'done', 'failed'; got 'ok'\.",
    ),
    "failed-without-reason": (
        {"status": "failed"},
        r"MemberRecord: `error` must be the reason a failed member failed; got None\.",
    ),
    "curve-name": (
        {"curves": {"val_los": [1.0]}},
        r"`curves` must be one of 'train_loss', .*; got 'val_los'\. Did you mean 'val_loss'\?",
    ),
    "negative-split": ({"split_id": -1}, r"`split_id` must be an integer >= 0; got -1\."),
    "float-seed": ({"seed": 1.5}, r"`seed` must be an integer >= 0; got 1\.5\."),
    "histogram-shape": (
        {"weight_hist": {"dense_0": ([0.0, 1.0], [3, 4])}},
        r"`weight_hist` must be \(edges, counts\) with one edge more; got 'dense_0'\.",
    ),
    "filters-shape": (
        {"filters": [[1.0, 2.0]]},
        r"MemberRecord: `filters` must be an array \[n, C, kh, kw\]; got \(1, 2\)\.",
    ),
    "wall-nan": ({"wall_s": float("nan")}, r"`wall_s` must be a finite number of seconds"),
}


@pytest.mark.parametrize(("change", "match"), INVALID.values(), ids=INVALID.keys())
def test_invalid_records_are_refused(change: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        MemberRecord(**{**BASE, **change})


def test_all_problems_are_reported_together() -> None:
    with pytest.raises(ConfigError, match=r"`key` must .* `n_test` must"):
        MemberRecord(**{**BASE, "key": "", "n_test": -2})


def test_normalizes_sequences_and_numpy_scalars() -> None:
    r = MemberRecord(
        **{**BASE, "seed": np.int64(7), "split_id": np.int32(2)},
        curves={"train_loss": np.array([1.0, 0.5], dtype=np.float32)},
        test_scores={"accuracy": np.float32(0.75)},
        weight_hist={"dense_0": (np.array([0.0, 0.5, 1.0]), np.array([2, 3]))},
        feature_norms=np.array([0.25, 0.0]),
        test_pred=[[0.1, 0.9]],
    )
    assert r.seed == 7 and type(r.seed) is int and type(r.split_id) is int
    assert r.curves == {"train_loss": (1.0, 0.5)}
    assert r.test_scores == {"accuracy": 0.75} and type(r.test_scores["accuracy"]) is float
    assert r.weight_hist == {"dense_0": ((0.0, 0.5, 1.0), (2, 3))}
    assert r.feature_norms == (0.25, 0.0)
    assert isinstance(r.test_pred, np.ndarray) and r.test_pred.shape == (1, 2)
    d = r.to_dict()
    assert json.loads(json.dumps(d)) == d
    with pytest.raises(AttributeError):
        r.key = "other"  # type: ignore[misc]


finite_or_not = st.floats(allow_nan=True, allow_infinity=True, width=64)


@given(st.lists(finite_or_not, max_size=20))
def test_float_encoding_round_trips_through_standard_json(values: list[float]) -> None:
    encoded = encode_floats(values)
    text = json.dumps(encoded, allow_nan=False)  # standard JSON: no NaN/Infinity literals
    decoded = decode_floats(json.loads(text))
    assert len(decoded) == len(values)
    for a, b in zip(values, decoded, strict=True):
        assert (math.isnan(a) and math.isnan(b)) or a == b


@pytest.mark.parametrize(
    "array",
    [np.arange(12, dtype=np.float32).reshape(4, 3), np.array([1, 0, 2]), np.zeros((0, 7))],
    ids=["probs", "labels", "empty"],
)
def test_predictions_round_trip_as_npy(array: np.ndarray) -> None:
    back = npy_to_array(array_to_npy(array))
    assert back.dtype == array.dtype and back.shape == array.shape
    np.testing.assert_array_equal(back, array)


def test_object_arrays_are_not_pickled() -> None:
    with pytest.raises(ValueError, match="allow_pickle"):
        array_to_npy(np.array([{"a": 1}], dtype=object))
