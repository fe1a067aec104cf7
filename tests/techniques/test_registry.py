"""The technique registry: declarations, validation, configs, grammar and single-model forms."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from reglab import techniques
from reglab.engine.spec import Strategy
from reglab.errors import ConfigError
from reglab.study.strategies import describe, parse_strategies, parse_strategy, parts
from reglab.techniques import ActivityL1, ActivityL2, Batch, Param, Technique, TechniqueConfig


@pytest.mark.parametrize("key", techniques.keys())
def test_config_round_trips_through_json(key: str) -> None:
    cls = techniques.get(key)
    t = cls(**{q.name: q.high for q in cls.params})
    again = cls.from_config(json.loads(json.dumps(t.get_config())))
    assert again == t
    assert techniques.build(TechniqueConfig.from_dict(t.config().to_dict())) == t


@pytest.mark.parametrize("key", techniques.keys())
def test_declares_a_search_space_with_an_off_value(key: str) -> None:
    cls = techniques.get(key)
    for name, q in cls.search_space().items():
        assert q.scale in ("log", "linear") and q.low <= q.high, name
        assert cls(**{p.name: p.off for p in cls.params}).off


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"strength": -1.0}, r"`strength` must be a finite number ≥ 0; got -1.0"),
        ({"strength": float("nan")}, r"`strength` must be a finite number ≥ 0"),
        ({}, r"`strength` must be given; got 'nothing'"),
        ({"strength": 1.0, "rate": 2.0}, r"`parameter` must be one of strength; got 'rate'"),
    ],
    ids=["negative", "nan", "missing", "unknown"],
)
def test_parameters_are_validated_at_construction(values: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        ActivityL2(**values)


def test_register_refuses_a_taken_or_malformed_key() -> None:
    class Taken(ActivityL2):
        pass

    with pytest.raises(ConfigError, match="must be free; got 'activity-l2', taken by ActivityL2"):
        techniques.register(Taken)

    class Bad(ActivityL2):
        key = "Bad Key"

    with pytest.raises(ConfigError, match="`key` must be a lower-case name"):
        techniques.register(Bad)


def test_unknown_key_suggests_the_close_one() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'activity-l2'"):
        techniques.get("activity-l3")


@pytest.mark.parametrize("square", [False, True], ids=["l1", "l2"])
def test_activity_penalty_matches_numpy_per_member(square: bool) -> None:
    rng = np.random.default_rng(0)
    h = [
        rng.normal(size=(3, 5, 4)).astype(np.float32),
        rng.normal(size=(3, 2, 4)).astype(np.float32),
    ]
    counts = np.array([4, 3, 1])
    w = (np.arange(4)[None, None, :] < counts[:, None, None]) / counts[:, None, None]
    strength = np.array([1e-3, 0.0, 0.5], dtype=np.float32)
    cls = ActivityL2 if square else ActivityL1
    got = cls.penalty(
        Batch([], [], [torch.from_numpy(x) for x in h], torch.from_numpy(w.astype(np.float32))),
        {"strength": torch.from_numpy(strength)},
    )
    size = (lambda x: x**2) if square else np.abs
    want = strength * sum((size(x).sum(1) * w[:, 0]).sum(1) for x in h)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-5)


def test_single_model_form_records_the_activity_penalty() -> None:
    module = ActivityL2(strength=0.1).module()
    x = torch.tensor([[1.0, -2.0], [0.0, 3.0]])
    assert torch.equal(module(x), x)
    assert module.loss is not None and float(module.loss) == pytest.approx(0.1 * 14 / 2)
    module.eval()
    module.loss = None
    module(x)
    assert module.loss is None


def test_param_declaration_is_checked() -> None:
    with pytest.raises(ConfigError, match="`low` must be > 0 for a log scale"):
        Param("s", 0.0, 1.0, "log")


# ------------------------------------------------------------------------------- the grammar


@pytest.mark.parametrize(
    ("text", "name", "keys"),
    [
        ("activity-l2=1e-4", "activity-l2=1e-4", ["activity-l2"]),
        ("dropout=0.3+activity_L2=0.0001", "dropout=0.3+activity-l2=1e-4", ["activity-l2"]),
        (
            "activity-l2=1e-4+l2+activity-l1=1e-3",
            "l2+activity-l1=1e-3+activity-l2=1e-4",
            ["activity-l1", "activity-l2"],
        ),
    ],
    ids=["alone", "with-builtin", "two-and-preset"],
)
def test_grammar_accepts_registry_terms(text: str, name: str, keys: list[str]) -> None:
    s = parse_strategy(text)
    assert s.name == name
    assert [t.key for t in s.techniques] == keys
    assert Strategy.from_dict(json.loads(json.dumps(s.to_dict()))) == s


def test_grammar_refuses_a_technique_twice_or_without_value() -> None:
    with pytest.raises(ConfigError, match="`activity-l2` must be given once"):
        parse_strategy("activity-l2=1e-4+activity-l2=1e-3")
    with pytest.raises(ConfigError, match="`activity-l2` must be given a value"):
        parse_strategy("activity-l2")
    with pytest.raises(ConfigError, match=r"`strength` must be a finite number ≥ 0; got -1.0"):
        parse_strategy("activity-l2=-1")


def test_registry_terms_are_parts_labels_and_distinct_settings() -> None:
    assert parts("dropout=0.3+activity-l2=1e-4") == ("dropout=0.3", "activity-l2=1e-4")
    assert describe(parse_strategy("activity-l1=1e-3")) == "activity L1 1e-3"
    with pytest.raises(ConfigError, match="names must be distinct"):
        parse_strategies("activity-l2=1e-4,activity-l2=0.0001+none")


def test_store_keys_of_strategies_without_techniques_are_unchanged() -> None:
    # The exact dict earlier versions hashed (dataclasses.asdict before the field existed).
    assert "techniques" not in parse_strategy("dropout+l2").to_dict()
    assert parse_strategy("activity-l2=1e-4").to_dict()["techniques"] == [
        {"key": "activity-l2", "params": {"strength": 1e-4}}
    ]


def test_technique_subclass_is_a_technique() -> None:
    assert issubclass(ActivityL2, Technique) and not ActivityL2.fused
