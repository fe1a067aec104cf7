"""New rows: missing columns refused, extra ones ignored, unseen categories encoded as zeros."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import reglab
from reglab.errors import DataError
from reglab.final import FinalModel


def _table(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    h = rng.normal(size=n)
    colour = rng.choice(["red", "green", "blue"], n)
    return pd.DataFrame(
        {"height": h, "colour": colour, "label": np.where(h + (colour == "red") > 0.3, "y", "n")}
    )


@pytest.fixture(scope="module")
def model() -> FinalModel:
    return reglab.fit_final(_table(), target="label", strategy="none", epochs=2, hidden=(4,),
                            device="cpu")  # fmt: skip


def test_missing_columns_are_named(model: FinalModel) -> None:
    rows = pd.DataFrame({"heigth": [1.0], "other": ["x"]})
    with pytest.raises(
        DataError,
        match=r"^predict: the DataFrame must have every feature column the model was trained "
        r"on; got no 'height', 'colour' \(2 of 2 missing\). Did you mean 'heigth'\?$",
    ):
        model.predict(rows)


def test_the_target_is_no_did_you_mean_for_a_missing_feature() -> None:
    table = _table().rename(columns={"height": "a1", "colour": "a2", "label": "a16"})
    model = reglab.fit_final(table, target="a16", strategy="none", epochs=2, hidden=(4,),
                             device="cpu")  # fmt: skip
    with pytest.raises(DataError, match=r"got no 'a1' \(1 of 2 missing\)\.$"):
        model.predict(table.drop(columns="a1"))  # 'a16' is close to 'a1' but not a feature
    with pytest.raises(DataError, match=r"got no 'a1' .* Did you mean 'a11'\?$"):
        model.predict(table.drop(columns="a1").assign(a11=1.0))  # an extra column may be meant


def test_extra_columns_and_the_target_are_ignored(model: FinalModel) -> None:
    table = _table()
    rows = model.read(table.assign(extra=1))
    assert rows.notices == (
        "ignored the target column 'label'",
        "ignored 1 column the model does not use: 'extra'",
    )
    shuffled = table[["colour", "height"]].assign(extra=1)
    np.testing.assert_array_equal(model.predict_proba(shuffled), model.predict_proba(table))


def test_unseen_categories_encode_as_all_zeros(model: FinalModel) -> None:
    rows = pd.DataFrame({"height": [0.5, 0.5, 0.5], "colour": ["purple", "red", "purple"]})
    read = model.read(rows)
    assert read.notices == (
        "values no training row had, encoded as all zeros in their column's one-hot block: "
        "'colour' 2 ('purple')",
    )
    encoded = model.preprocessor.transform(read.frame)
    assert encoded[:, 1:].tolist()[0] == [0.0, 0.0, 0.0] and encoded[1, 1:].sum() == 1.0
    assert model.predict(rows).shape == (3,)


def test_missing_cells_are_imputed_with_a_notice(model: FinalModel) -> None:
    rows = pd.DataFrame({"height": ["?", "1.5"], "colour": ["red", ""]})
    read = model.read(rows)
    assert read.notices == (
        "imputed 2 missing cells with the training rows' median or most frequent value",
    )
    expected = pd.DataFrame(
        {
            "height": [model.preprocessor.medians_[0], 1.5],
            "colour": ["red", model.preprocessor.modes_[0]],
        }
    )
    np.testing.assert_array_equal(model.predict_proba(rows), model.predict_proba(expected))


def test_text_in_a_numeric_column_is_refused_with_its_line(
    model: FinalModel, tmp_path: Path
) -> None:
    path = tmp_path / "new.csv"
    path.write_text("height,colour\n1.0,red\ntall,blue\n")
    with pytest.raises(
        DataError, match=r"column 'height' of 'new.csv' must hold numbers.*'tall' at line 3\.$"
    ):
        model.predict(path)


def test_whole_floats_read_as_the_training_labels() -> None:
    table = pd.DataFrame({"code": ["1", "2", "x"] * 10, "y": [0.0, 1.0, 2.0] * 10})
    table["y"] = np.arange(30) % 2
    model = reglab.fit_final(table, target="y", strategy="none", epochs=1, hidden=(2,),
                             device="cpu")  # fmt: skip
    assert model.read(pd.DataFrame({"code": [1.0, 2.0]})).notices == ()


def test_a_two_d_array_in_the_models_column_order(model: FinalModel) -> None:
    table = _table()
    array = table[list(model.columns)].to_numpy(dtype=object)
    np.testing.assert_array_equal(model.predict(array), model.predict(table))
    with pytest.raises(DataError, match=r"one column per feature column of the model \(2\)"):
        model.predict(np.zeros((2, 5)))
