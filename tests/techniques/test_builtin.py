"""The built-in techniques as registry entries: presets, grammar, strategies as configurations,
single-model forms and the estimator's parameters all come from one declaration each."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from reglab import techniques
from reglab.engine.spec import Strategy
from reglab.errors import ConfigError
from reglab.study.strategies import PRESETS, describe, parse_strategy, strategy_to_text
from reglab.techniques import TechniqueConfig, builtins
from reglab.training.estimator import (
    REGULARIZATION_PARAMS,
    RegularizedMLPClassifier,
    RegularizedMLPRegressor,
)

BUILTIN_KEYS = [c.key for c in builtins()]
EXAMPLES = {  # key → parameter values a user might type
    "batchnorm": {},
    "input-dropout": {"rate": 0.1},
    "dropout": {"rate": 0.25},
    "gaussian-dropout": {"rate": 0.4},
    "dropconnect": {"rate": 0.2},
    "elasticnet": {"alpha": 1e-3, "l1_ratio": 0.25},
    "l1": {"strength": 3e-4},
    "l2": {"strength": 2e-3},
    "maxnorm": {"norm": 2.5},
    "weight-decay": {"decay": 1e-3},
}


def test_every_builtin_has_an_example_and_is_fused() -> None:
    assert sorted(EXAMPLES) == sorted(BUILTIN_KEYS)
    assert all(techniques.get(k).fused for k in BUILTIN_KEYS)
    assert not techniques.get("activity-l2").fused


@pytest.mark.parametrize("key", BUILTIN_KEYS)
def test_grammar_term_and_configuration_build_the_same_strategy(key: str) -> None:
    cls = techniques.get(key)
    values = EXAMPLES[key]
    typed = parse_strategy(cls.text(values))  # type: ignore[attr-defined]
    built = Strategy.of(typed.name, TechniqueConfig(key, tuple(values.items())))
    assert built == typed
    assert typed.techniques == ()  # built-ins become the fields the fused path reads
    for name, value in cls.to_fields(values).items():  # type: ignore[attr-defined]
        assert getattr(typed, name) == value
    # configs() gives the strategy back as configurations (elastic net as its L1 and L2)
    again = Strategy.of(typed.name, *typed.configs())
    assert again == typed
    assert json.loads(json.dumps([c.to_dict() for c in typed.configs()]))


@pytest.mark.parametrize("key", [c.key for c in builtins() if c.preset is not None])
def test_each_builtin_declares_its_preset(key: str) -> None:
    cls = techniques.get(key)
    description, values = cls.preset  # type: ignore[attr-defined]
    preset = PRESETS[key]
    assert preset.description == description
    assert preset.settings == cls.to_fields(values)  # type: ignore[attr-defined]


def test_per_layer_rates_are_one_configuration() -> None:
    s = parse_strategy("dropout=0.2/0.5+l2=1e-4")
    (dropout, l2) = s.configs()
    assert dropout == TechniqueConfig("dropout", (("rate", (0.2, 0.5)),))
    assert TechniqueConfig.from_dict(json.loads(json.dumps(dropout.to_dict()))) == dropout
    assert Strategy.of("x", dropout, l2).dropout == (0.2, 0.5)


def test_a_field_set_twice_is_refused_with_its_sources() -> None:
    l2 = TechniqueConfig("l2", (("strength", 1e-4),))
    en = TechniqueConfig("elasticnet", (("alpha", 1e-3), ("l1_ratio", 0.5)))
    with pytest.raises(ConfigError, match=r"`l2` must be set once; got it from 'l2' and"):
        Strategy.of("x", l2, en)
    with pytest.raises(ConfigError, match="`l2` must be set once; got it from 'the fields'"):
        Strategy(name="x", l2=1e-3, techniques=(l2,))


def test_technique_instances_are_configurations_too() -> None:
    s = Strategy.of("x", techniques.get("l2")(strength=1e-3), techniques.get("dropout")(rate=0.3))
    assert (s.l2, s.dropout) == (1e-3, 0.3)


def test_store_keys_of_builtin_strategies_are_those_of_the_flat_record() -> None:
    # The member content key hashes this dict; stores written before the registry keep theirs.
    assert parse_strategy("dropout+l2").to_dict() == {
        "name": "dropout+l2", "l1": 0.0, "l2": 1e-4, "l1_mode": "penalty",
        "penalty_layers": "hidden", "dropout": 0.3, "input_dropout": 0.0,
        "dropout_kind": "standard", "drop_connect": 0.0, "max_norm": 0.0, "weight_decay": 0.0,
        "lr": None, "batch_norm": False,
    }  # fmt: skip


def test_text_and_description_come_from_the_entries() -> None:
    s = parse_strategy("batchnorm+gaussian-dropout=0.4+l1=3e-4+proximal+maxnorm=2.5")
    assert strategy_to_text(s) == "batchnorm+gaussian-dropout=0.4+l1=3e-4+proximal+maxnorm=2.5"
    assert describe(s) == "batch norm + Gaussian dropout 0.4 + L1 3e-4 (proximal) + max-norm 2.5"
    with pytest.raises(ConfigError, match=r"`maxnorm` must be a norm > 0 \(leave the term out"):
        parse_strategy("maxnorm=0")


def test_single_model_forms_do_what_the_engine_does() -> None:
    g = torch.Generator().manual_seed(0)
    w = torch.randn(5, 7, generator=g)
    l1 = techniques.get("l1").single_model_form({"strength": 1e-2})  # type: ignore[attr-defined]
    l2 = techniques.get("l2").single_model_form({"strength": 1e-2})  # type: ignore[attr-defined]
    assert float(l1(w)) == pytest.approx(1e-2 * float(w.abs().sum()), rel=1e-6)
    assert float(l2(w)) == pytest.approx(1e-2 * float((w * w).sum()), rel=1e-6)
    en = techniques.get("elasticnet").single_model_form({"alpha": 1e-2, "l1_ratio": 0.25})  # type: ignore[attr-defined]
    expected = 1e-2 * 0.25 * float(w.abs().sum()) + 0.5 * 1e-2 * 0.75 * float((w * w).sum())
    assert float(en(w)) == pytest.approx(expected, rel=1e-6)
    norm = techniques.get("maxnorm").single_model_form({"norm": 0.5})  # type: ignore[attr-defined]
    assert float(norm(w * 10).norm(dim=1).max()) <= 0.5 + 1e-5
    drop = techniques.get("dropout").single_model_form({"rate": 0.5})  # type: ignore[attr-defined]
    x = torch.ones(1000, 4)
    dropped = drop.train()(x)
    assert (
        set(np.unique(dropped.numpy())) <= {0.0, 2.0}
        and 0.4 < float((dropped == 0).float().mean()) < 0.6
    )
    assert torch.equal(drop.eval()(x), x)
    assert techniques.get("weight-decay").single_model_form({"decay": 1e-3}) == {  # type: ignore[attr-defined]
        "weight_decay": 1e-3
    }


@pytest.mark.parametrize("estimator", [RegularizedMLPClassifier, RegularizedMLPRegressor])
def test_estimator_parameters_are_the_builtin_fields(estimator: type) -> None:
    params = estimator().get_params()
    assert set(REGULARIZATION_PARAMS) <= set(params)
    assert "batch_norm" in params  # the architecture's switch
