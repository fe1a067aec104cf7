"""Leaving feature columns out of a data set (``--drop``)."""

from pathlib import Path

import pytest

from reglab.api import load_data
from reglab.errors import DataError

MICE = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "mice-protein.csv"


@pytest.mark.skipif(not MICE.exists(), reason="shared data not present")
def test_dropping_the_leaking_columns_of_mice_protein() -> None:
    full = load_data(MICE, target="class")
    assert any("possible target leakage" in n for n in full.notices)
    ds = load_data(MICE, target="class", drop=["Genotype", "Treatment", "Behavior"])
    assert ds.categorical_columns == ()
    assert ds.n_features == full.n_features - 3
    assert not any("possible target leakage" in n for n in ds.notices) and ds.leakage is None
    assert full.leakage is not None and full.leakage.notice in full.notices
    assert full.without(["Genotype"]).leakage is None  # its notice goes with the column
    assert full.without(["pCREB_N"]).leakage == full.leakage
    assert ("Behavior", "asked to drop") in ds.dropped_columns
    assert list(ds.X.columns) == list(ds.feature_names)


def test_dropping_every_feature_is_refused() -> None:
    ds = load_data("builtin:iris")
    with pytest.raises(DataError, match="at least one feature column must remain"):
        ds.without(list(ds.feature_names))
