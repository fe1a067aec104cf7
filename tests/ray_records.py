"""Comparing stored members bit for bit, for the tests of studies on a Ray cluster."""

from __future__ import annotations

from typing import Any

import numpy as np

from reglab.store import Store


def records(store: Store, name: str) -> dict[str, Any]:
    """The study's stored members by key, with their test predictions."""
    return {r.key: r for r in store.load_members(name, with_predictions=True)}


def assert_same_bits(a: dict[str, Any], b: dict[str, Any]) -> None:
    """The same members with the same epochs, scores, curves and predictions, to the bit."""
    assert a.keys() == b.keys()
    for key, r in a.items():
        s = b[key]
        assert (r.status, r.best_epoch, r.stopped_epoch, r.epochs_run) == (
            s.status,
            s.best_epoch,
            s.stopped_epoch,
            s.epochs_run,
        )
        assert r.test_scores == s.test_scores and r.train_scores == s.train_scores
        assert r.curves.keys() == s.curves.keys()
        for name, curve in r.curves.items():  # NaN where there are no validation rows
            np.testing.assert_array_equal(curve, s.curves[name])
        np.testing.assert_array_equal(r.test_pred, s.test_pred)
