"""Grouped studies from Python: ``groups=`` in the API, the study's identity, nested tuning,
the final fit's validation part and ``advise``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import reglab
from reglab.api import load_data
from reglab.errors import ConfigError, DataError
from reglab.final.fit import strategy_of_study, validation_rows
from reglab.store import Store
from reglab.study.run import Study


def _subjects(n_subjects: int = 12, per: int = 6, seed: int = 0) -> pd.DataFrame:
    """Repeated measures: each subject has one class and its own offset on every feature."""
    rng = np.random.default_rng(seed)
    subject = np.repeat(np.arange(n_subjects), per)
    label = subject % 2
    offset = rng.normal(size=(n_subjects, 3))[subject]
    x = offset + 3.0 * label[:, None] + 0.1 * rng.normal(size=(len(subject), 3))
    frame = pd.DataFrame(x, columns=["a", "b", "c"])
    frame["subject"] = [f"s{s:02d}" for s in subject]
    frame["label"] = label
    return frame


FAST = {"epochs": 2, "hidden": (8,), "device": "cpu", "reference": "none", "seed": 1}


def test_groups_in_the_api_change_the_study_and_are_stored_in_its_config() -> None:
    frame = _subjects()
    with Store("sqlite://") as st:
        grouped = reglab.bench(frame, target="label", strategies="none", cv=3, store=st,
                               groups="subject", **FAST)  # fmt: skip
        plain = reglab.bench(frame.drop(columns="subject"), target="label", strategies="none",
                             cv=3, store=st, **FAST)  # fmt: skip
        assert grouped.name != plain.name
        info = st.get_study(grouped.name)
        assert info.config["splits"]["groups"]["by"] == "subject"
        assert info.config["splits"]["groups"]["groups"] == 12
        assert "groups" not in st.get_study(plain.name).config["splits"]
        assert "subject" not in (info.metadata.get("feature_names") or ())
    # labels given as an array: another array is another study
    ds = load_data(frame.drop(columns="subject"), target="label", groups=frame["subject"])
    other = load_data(frame.drop(columns="subject"), target="label",
                      groups=np.roll(frame["subject"].to_numpy(), 6))  # fmt: skip
    a = Study("none", n_splits=3, **FAST).plan(ds)
    b = Study("none", n_splits=3, **FAST).plan(other)
    assert a.name != b.name and a.config["splits"]["groups"]["by"] == "array"


def test_nested_tuning_refuses_more_inner_folds_than_training_groups_before_training() -> None:
    ds = load_data(_subjects(n_subjects=6), target="label", groups="subject")
    study = Study("dropout", n_splits=3, tune=2, tune_cv=5, **FAST)
    expected = r"`tune_cv` \(--tune-cv\) must be at most the groups of every outer training part"
    with pytest.raises(ConfigError, match=expected + r" \(fewest 4, --groups\); got 5\."):
        study.plan(ds)


def test_the_final_fit_validates_on_whole_groups_and_a_grouped_study_passes_its_grouping() -> None:
    groups = np.repeat(np.arange(10), 4)
    train, val = validation_rows(np.tile([0, 1], 20), "binary", 0.2, seed=3, groups=groups)
    assert not set(groups[train].tolist()) & set(groups[val].tolist())
    assert len(val) == 8 and len(train) == 32
    frame = _subjects()
    result = reglab.bench(frame, target="label", strategies="none", cv=3, groups="subject",
                          **{**FAST, "epochs": 40, "lr": 1e-2})  # fmt: skip
    _, settings = strategy_of_study(result)
    assert settings["groups"] == "subject"


def test_advise_measures_on_grouped_folds_and_passes_the_groups_on() -> None:
    frame = _subjects(n_subjects=20)
    advice = reglab.advise(frame, target="label", groups="subject")
    assert "--groups subject --strategies" in advice.command
    assert not any(n.startswith("added --groups") for n in advice.command_notes)  # the user's
    labels = reglab.advise(frame.drop(columns="subject"), target="label",
                           groups=frame["subject"].to_numpy())  # fmt: skip
    assert "--groups" not in labels.command
    assert any("given as labels" in n for n in labels.command_notes)
    with pytest.raises(DataError, match=r"at least 5 groups \(--groups\) .*; got 4\.$"):
        reglab.advise(_subjects(n_subjects=4, per=20), target="label", groups="subject")


def test_nested_tuning_trains_on_grouped_inner_folds(monkeypatch: pytest.MonkeyPatch) -> None:
    import reglab.study.nested_run as nested_run

    seen: list[list] = []
    real = nested_run.inner_splits

    def spy(*args: object, **kwargs: object) -> list:
        folds = real(*args, **kwargs)  # type: ignore[arg-type]
        seen.append(folds)
        return folds

    monkeypatch.setattr(nested_run, "inner_splits", spy)
    frame = _subjects(n_subjects=15, per=4)
    ds = load_data(frame, target="label", groups="subject")
    assert ds.grouping is not None
    codes = ds.grouping.codes
    with Store("sqlite://") as st:
        result = Study("dropout", n_splits=3, tune=2, tune_cv=2, tune_batch=2, **FAST).run(ds, st)
    assert result.tuning and len(seen) == 3  # one call per outer split
    for folds in seen:
        assert len(folds) == 2
        for f in folds:
            parts = [set(codes[i].tolist()) for i in (f.train_idx, f.val_idx, f.test_idx)]
            assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
