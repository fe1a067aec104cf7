"""Strategy presets, the compact grammar, parts of combinations and strategy files."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reglab import techniques
from reglab.engine.spec import Strategy
from reglab.errors import ConfigError
from reglab.study.strategies import (
    ALIASES,
    DEFAULT_PRESETS,
    PRESETS,
    describe,
    format_number,
    is_combination,
    load_strategy_file,
    parse_strategies,
    parse_strategy,
    parts,
    preset,
    resolve_strategies,
    strategy_to_text,
)
from reglab.techniques import TechniqueConfig


def settings_of(s: Strategy) -> Strategy:
    """A strategy's settings without its name, for comparing what would be trained."""
    return dataclasses.replace(s, name="")


# ------------------------------------------------------------------------------------ presets
@pytest.mark.parametrize("name", list(PRESETS), ids=list(PRESETS))
def test_every_preset_parses_to_its_strategy(name: str) -> None:
    entry = PRESETS[name]
    parsed = parse_strategy(name)
    assert parsed == entry.strategy
    assert parsed.name == name == entry.name
    assert entry.description and "\n" not in entry.description and len(entry.description) < 100
    assert (name == "none") == (not entry.settings)


PRESET_VALUES = [
    ("none", {}),
    ("l1", {"l1": 1e-4}),
    ("l2", {"l2": 1e-4}),
    ("elasticnet", {"l1": 5e-5, "l2": 5e-5}),
    ("dropout", {"dropout": 0.3}),
    ("dropout+l1", {"dropout": 0.3, "l1": 1e-4}),
    ("dropout+l2", {"dropout": 0.3, "l2": 1e-4}),
    ("dropout+elasticnet", {"dropout": 0.3, "l1": 5e-5, "l2": 5e-5}),
    ("maxnorm", {"max_norm": 3.0}),
    ("dropout+maxnorm", {"dropout": 0.3, "max_norm": 3.0}),
    ("batchnorm", {"batch_norm": True}),
    ("batchnorm+dropout", {"batch_norm": True, "dropout": 0.3}),
    ("dropconnect", {"drop_connect": 0.3}),
    ("gaussian-dropout", {"dropout": 0.3, "dropout_kind": "gaussian"}),
    ("weight-decay", {"weight_decay": 1e-2}),
    ("realmlp", {"dropout": 0.15, "weight_decay": 2e-2}),
    (
        "sparse-vd",
        {"techniques": (TechniqueConfig("sparse-vd", (("threshold", 3.0), ("warmup", 10.0))),)},
    ),
    (
        "learned-dropout",
        {
            "techniques": (
                TechniqueConfig("learned-dropout", (("alpha", 0.25), ("per_layer", 0.0))),
            )
        },
    ),
    ("auto-dropout", {"dropout": 0.1, "schedules": (("dropout", "adaptive:0.05:0.5"),)}),
]


@pytest.mark.parametrize(("name", "values"), PRESET_VALUES, ids=[n for n, _ in PRESET_VALUES])
def test_preset_strengths(name: str, values: dict[str, Any]) -> None:
    assert PRESETS[name].settings == values
    assert settings_of(preset(name)) == settings_of(Strategy(**values))


def test_presets_are_listed_in_order_and_complete() -> None:
    assert [n for n, _ in PRESET_VALUES] == list(PRESETS)


def test_default_presets_hold_every_part_of_their_combinations() -> None:
    assert set(DEFAULT_PRESETS) <= set(PRESETS)
    assert "none" in DEFAULT_PRESETS and 8 <= len(DEFAULT_PRESETS) <= 10
    for name in DEFAULT_PRESETS:
        assert set(parts(name)) <= set(DEFAULT_PRESETS), name
    assert [s.name for s in resolve_strategies(None)] == list(DEFAULT_PRESETS)


@pytest.mark.parametrize(("alias", "target"), list(ALIASES.items()), ids=list(ALIASES))
def test_aliases_name_presets(alias: str, target: str) -> None:
    assert preset(alias) == PRESETS[target].strategy
    assert parse_strategy(alias).name == target


def test_preset_unknown_name_suggests() -> None:
    with pytest.raises(ConfigError, match=r"^preset: `name` must be a preset name; got 'dropot'\. "
                       r"Did you mean 'dropout'\?$"):  # fmt: skip
        preset("dropot")


# ------------------------------------------------------------------------------------ grammar
VALID = [
    # id, text, canonical name, expected fields
    ("preset", "dropout", "dropout", {"dropout": 0.3}),
    ("preset-combo-reordered", "l2+dropout", "dropout+l2", {"dropout": 0.3, "l2": 1e-4}),
    ("two-atomic-presets", "l1+l2", "l1+l2", {"l1": 1e-4, "l2": 1e-4}),
    ("explicit", "dropout=0.3+l2=0.0001", "dropout=0.3+l2=1e-4", {"dropout": 0.3, "l2": 1e-4}),
    ("per-layer", "dropout=0.2/0.5", "dropout=0.2/0.5", {"dropout": (0.2, 0.5)}),
    ("input-dropout", "input-dropout=0.1+dropout", "input-dropout=0.1+dropout",
     {"input_dropout": 0.1, "dropout": 0.3}),
    ("case-and-underscores", "L2=1E-4+Max_Norm=3", "l2=1e-4+maxnorm=3",
     {"l2": 1e-4, "max_norm": 3.0}),
    ("spaces", " dropout + l2 = 1e-3 ", "dropout+l2=1e-3", {"dropout": 0.3, "l2": 1e-3}),
    ("exponent-with-plus", "l2=1e+2", "l2=100", {"l2": 100.0}),
    ("override-preset", "dropout+dropout=0.5", "dropout+dropout=0.5", {"dropout": 0.5}),
    ("override-keeps-kind", "gaussian-dropout+dropout=0.5", "gaussian-dropout+dropout=0.5",
     {"dropout": 0.5, "dropout_kind": "gaussian"}),
    ("gaussian-per-layer", "gaussian-dropout=0.1/0.2", "gaussian-dropout=0.1/0.2",
     {"dropout": (0.1, 0.2), "dropout_kind": "gaussian"}),
    ("elasticnet-sklearn", "elasticnet=1e-3:0.5", "elasticnet=1e-3:0.5",
     {"l1": 5e-4, "l2": 2.5e-4}),
    ("elasticnet-alias", "en=0.01:1", "elasticnet=0.01:1", {"l1": 0.01, "l2": 0.0}),
    ("elasticnet-override", "elasticnet+l1=1e-3", "elasticnet+l1=1e-3", {"l1": 1e-3, "l2": 5e-5}),
    ("proximal-flag", "l1=1e-3+proximal", "l1=1e-3+proximal", {"l1": 1e-3, "l1_mode": "proximal"}),
    ("l1-mode", "l1-mode=Proximal+l1", "l1+proximal", {"l1": 1e-4, "l1_mode": "proximal"}),
    ("l1-mode-penalty", "l1+l1-mode=penalty", "l1+l1-mode=penalty", {"l1": 1e-4}),
    ("penalty-layers", "l2+penalty-layers=all", "l2+penalty-layers=all",
     {"l2": 1e-4, "penalty_layers": "all"}),
    ("first-layer", "l1=1e-3+penalty_layers=FIRST", "l1=1e-3+penalty-layers=first",
     {"l1": 1e-3, "penalty_layers": "first"}),
    ("batchnorm", "dropout+bn", "batchnorm+dropout", {"batch_norm": True, "dropout": 0.3}),
    ("dropconnect", "dropconnect=0.5", "dropconnect=0.5", {"drop_connect": 0.5}),
    ("weight-decay", "weight-decay=1e-4", "weight-decay=1e-4", {"weight_decay": 1e-4}),
    ("adamw-alias", "adamw", "weight-decay", {"weight_decay": 1e-2}),
    ("lr", "dropout+lr=3e-3", "dropout+lr=3e-3", {"dropout": 0.3, "lr": 3e-3}),
    ("learning-rate-alias", "learning_rate=0.01", "lr=0.01", {"lr": 0.01}),
    ("none-dropped", "none+lr=3e-3", "lr=3e-3", {"lr": 3e-3}),
    ("baseline-alias", "baseline", "none", {}),
    ("zero-strength", "l2=0", "l2=0", {}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "name", "fields"), [v[1:] for v in VALID], ids=[v[0] for v in VALID]
)
def test_grammar(text: str, name: str, fields: dict[str, Any]) -> None:
    s = parse_strategy(text)
    assert s.name == name
    assert settings_of(s) == settings_of(Strategy(**fields))
    assert parse_strategy(name) == s  # the name is itself canonical grammar text


def _msg(text: str) -> str:
    return "^" + re.escape(text) + "$"


ERRORS = [
    ("empty", "", "parse_strategy: `text` must be a non-empty strategy text; got ''."),
    ("blank", "   ", "parse_strategy: `text` must be a non-empty strategy text; got '   '."),
    ("empty-term", "dropout++l2",
     "Strategy 'dropout++l2': every term must be non-empty; got an empty term."),
    ("trailing-plus", "dropout+",
     "Strategy 'dropout+': every term must be non-empty; got an empty term."),
    ("unknown-preset", "dropuot",
     "Strategy 'dropuot': `term` must be one of none, l1, l2, elasticnet, dropout, maxnorm, "
     "batchnorm, dropconnect, gaussian-dropout, weight-decay, realmlp, sparse-vd, "
     "learned-dropout, auto-dropout, proximal, lookahead, residual, shake-drop, or NAME=VALUE; "
     "got 'dropuot'. Did you mean 'dropout'?"),
    ("unknown-parameter", "dropuot=0.3",
     "Strategy 'dropuot=0.3': `parameter` must be one of input-dropout, spatial-dropout, "
     "recurrent-dropout, weight-drop, dropout, gaussian-dropout, shake-drop, learned-dropout, "
     "dropconnect, elasticnet, l1, sparse-vd, l2, activity-l1, activity-l2, group-l1, lassonet, "
     "l1-mode, penalty-layers, maxnorm, fgsm, pgd, adv-alpha, weight-decay, mixup, "
     "label-smoothing, input-noise, grad-clip, swa, lookahead, snapshot, lr; got 'dropuot'. "
     "Did you mean 'dropout'?"),
    ("unknown-valued-technique", "mixp=0.2",
     "Strategy 'mixp=0.2': `parameter` must be one of input-dropout, spatial-dropout, "
     "recurrent-dropout, weight-drop, dropout, gaussian-dropout, shake-drop, learned-dropout, "
     "dropconnect, elasticnet, l1, sparse-vd, l2, activity-l1, activity-l2, group-l1, lassonet, "
     "l1-mode, penalty-layers, maxnorm, fgsm, pgd, adv-alpha, weight-decay, mixup, "
     "label-smoothing, input-noise, grad-clip, swa, lookahead, snapshot, lr; got 'mixp'. "
     "Did you mean 'mixup'?"),
    ("malformed-number", "l2=1e-4x",
     "Strategy 'l2=1e-4x': `l2` must be a number such as 1e-4; got '1e-4x'."),
    ("missing-value", "l2=", "Strategy 'l2=': `l2` must be a number such as 1e-4; got ''."),
    ("nan", "l1=nan", "Strategy 'l1=nan': `l1` must be a number such as 1e-4; got 'nan'."),
    ("negative", "l2=-1e-4",
     "Strategy 'l2=-1e-4': `l2` must be a finite float >= 0; got -0.0001."),
    ("negative-maxnorm", "maxnorm=-3",
     "Strategy 'maxnorm=-3': `max_norm` must be a finite float >= 0; got -3.0."),
    ("dropout-one", "dropout=1",
     "Strategy 'dropout=1': `dropout` must be a float in [0, 1); got 1.0."),
    ("per-layer-one", "dropout=0.2/1",
     "Strategy 'dropout=0.2/1': `dropout` must be a float in [0, 1); got 1.0."),
    ("dropconnect-one", "dropconnect=1",
     "Strategy 'dropconnect=1': `drop_connect` must be a float in [0, 1); got 1.0."),
    ("lr-zero", "lr=0", "Strategy 'lr=0': `lr` must be a finite float > 0; got 0.0."),
    ("elasticnet-no-colon", "elasticnet=1e-3",
     "Strategy 'elasticnet=1e-3': `elasticnet` must be ALPHA:L1_RATIO such as 1e-3:0.5; "
     "got '1e-3'."),
    ("l1-ratio-above-1", "elasticnet=1e-3:1.5",
     "Strategy 'elasticnet=1e-3:1.5': `l1_ratio` must be a number in [0, 1]; got 1.5."),
    ("alpha-negative", "elasticnet=-1:0.5",
     "Strategy 'elasticnet=-1:0.5': `alpha` must be a finite number ≥ 0; got -1.0."),
    ("twice", "l2=1e-3+l2=1e-4",
     "Strategy 'l2=1e-3+l2=1e-4': `l2` must be given once; got 'l2=1e-3' and 'l2=1e-4'."),
    ("twice-via-elasticnet", "elasticnet=1e-3:0.5+l1=1e-3",
     "Strategy 'elasticnet=1e-3:0.5+l1=1e-3': `l1` must be given once; "
     "got 'elasticnet=1e-3:0.5' and 'l1=1e-3'."),
    ("two-presets", "dropout+gaussian-dropout",
     "Strategy 'dropout+gaussian-dropout': `dropout` must be set by one preset; "
     "got 'dropout' and 'gaussian-dropout'."),
    ("proximal-twice", "proximal+l1-mode=penalty",
     "Strategy 'proximal+l1-mode=penalty': `l1_mode` must be given once; "
     "got 'proximal' and 'l1-mode=penalty'."),
    ("bad-choice", "l1-mode=proximl",
     "Strategy 'l1-mode=proximl': `l1-mode` must be one of 'penalty', 'proximal'; "
     "got 'proximl'. Did you mean 'proximal'?"),
    ("bad-layers", "penalty-layers=last",
     "Strategy 'penalty-layers=last': `penalty-layers` must be one of 'hidden', 'all', "
     "'first'; got 'last'."),
    ("value-needed", "lr", "Strategy 'lr': `lr` must be given a value, as lr=VALUE; got 'lr'."),
    ("flag-with-value", "batchnorm=1",
     "Strategy 'batchnorm=1': `batchnorm` must be given without a value; got 'batchnorm=1'."),
    ("name-in-grammar", "name=mine",
     "Strategy 'name=mine': `name` must be set in a strategy file, not in the grammar; "
     "got 'name=mine'."),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_grammar_errors(text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=_msg(expected)):
        parse_strategy(text)


def _listed(text: str, after: str) -> list[str]:
    """The names an unknown-term message lists after ``after`` (up to ``; got``)."""
    with pytest.raises(ConfigError) as info:
        parse_strategy(text)
    listed = str(info.value).split(after, 1)[1].split("; got", 1)[0]
    return [n.strip() for n in listed.removesuffix(", or NAME=VALUE").split(",")]


def test_unknown_term_messages_list_what_the_parser_accepts() -> None:
    bare = _listed("fooo", "must be one of ")
    valued = _listed("fooo=1", "must be one of ")
    for name in bare:  # each bare name is a term alone (shake-drop: with residual)
        parse_strategy(name if name != "shake-drop" else "residual+shake-drop")
    for name in valued:  # each NAME is known: a bad value is refused by its own check
        with pytest.raises(ConfigError) as info:
            parse_strategy(f"{name}=x")
        assert "`parameter` must be" not in str(info.value), name
    assert set(techniques.keys()) <= {*bare, *valued}  # every registered technique is listed
    for name in ("residual", "lookahead", "shake-drop"):
        assert name in bare
    for name in ("mixup", "swa", "group-l1", "fgsm", "label-smoothing"):
        assert name in valued


def test_several_range_problems_are_reported_together() -> None:
    with pytest.raises(ConfigError) as info:
        parse_strategy("l1=-1+dropout=1")
    assert "`l1` must be a finite float >= 0; got -1.0." in str(info.value)
    assert "`dropout` must be a float in [0, 1); got 1.0." in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("alpha", "l1_ratio"), [(1e-3, 0.5), (0.2, 0.25), (1.0, 0.0), (0.03, 1.0), (0.0, 0.7)]
)
def test_elasticnet_matches_the_sklearn_penalty(alpha: float, l1_ratio: float) -> None:
    # scikit-learn's penalty: alpha·l1_ratio·Σ|w| + ½·alpha·(1−l1_ratio)·Σw²
    w = np.random.default_rng(0).normal(size=(7, 3))
    sklearn = alpha * l1_ratio * np.abs(w).sum() + 0.5 * alpha * (1 - l1_ratio) * (w**2).sum()
    s = parse_strategy(f"elasticnet={alpha!r}:{l1_ratio!r}")
    keras = s.l1 * np.abs(w).sum() + s.l2 * (w**2).sum()
    assert keras == pytest.approx(sklearn, rel=1e-12, abs=1e-15)


# ------------------------------------------------------------------------------------ lists
def test_parse_strategies_keeps_order_and_names() -> None:
    got = parse_strategies("none, dropout ,l2=1e-3,dropout=0.2/0.5+maxnorm=3")
    assert [s.name for s in got] == ["none", "dropout", "l2=1e-3", "dropout=0.2/0.5+maxnorm=3"]
    assert got[3].dropout == (0.2, 0.5) and got[3].max_norm == 3.0


LIST_ERRORS = [
    ("empty", "", "parse_strategies: `text` must be a comma-separated list of strategies; got ''."),
    ("double-comma", "a,,b",
     "parse_strategies: `text` must be strategies separated by single commas; got 'a,,b'."),
    ("trailing-comma", "dropout,",
     "parse_strategies: `text` must be strategies separated by single commas; got 'dropout,'."),
    ("same-name", "dropout, l2, dropout",
     "parse_strategies: strategy names must be distinct; got 'dropout' twice."),
    ("same-name-reordered", "l2+dropout, dropout+l2",
     "parse_strategies: strategy names must be distinct; got 'dropout+l2' twice."),
    ("same-settings", "dropout, dropout=0.3",
     "parse_strategies: strategies must differ; got 'dropout' and 'dropout=0.3', which have "
     "the same settings."),
    ("bad-member", "dropout, l2=x",
     "Strategy 'l2=x': `l2` must be a number such as 1e-4; got 'x'."),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"), [e[1:] for e in LIST_ERRORS], ids=[e[0] for e in LIST_ERRORS]
)
def test_parse_strategies_errors(text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=_msg(expected)):
        parse_strategies(text)


# ------------------------------------------------------------------------------------ round trip
NUMBER_CASES = [
    (1e-4, "1e-4"), (0.3, "0.3"), (3.0, "3"), (0.01, "0.01"), (5e-05, "5e-5"), (0.001, "1e-3"),
    (0.00015, "1.5e-4"), (0.123456, "0.123456"), (100.0, "100"), (1e20, "1e20"), (0.0, "0"),
    (2.5e-7, "2.5e-7"), (-0.002, "-2e-3"),
]  # fmt: skip


@pytest.mark.parametrize(("x", "text"), NUMBER_CASES, ids=[t for _, t in NUMBER_CASES])
def test_format_number(x: float, text: str) -> None:
    assert format_number(x) == text


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_format_number_reads_back_exactly(x: float) -> None:
    text = format_number(x)
    assert float(text) == x
    assert "+" not in text and len(text) <= len(repr(x))


_strength = st.one_of(st.just(0.0), st.floats(1e-9, 1e3))
_rate = st.floats(0.0, 1.0, exclude_max=True)


@st.composite
def valid_strategies(draw: st.DrawFn) -> Strategy:
    return Strategy(
        name="x",
        l1=draw(_strength),
        l2=draw(_strength),
        l1_mode=draw(st.sampled_from(["penalty", "proximal"])),
        penalty_layers=draw(st.sampled_from(["hidden", "all", "first"])),
        dropout=draw(st.one_of(_rate, st.lists(_rate, min_size=2, max_size=4).map(tuple))),
        input_dropout=draw(st.one_of(st.just(0.0), _rate)),
        dropout_kind=draw(st.sampled_from(["standard", "gaussian"])),
        drop_connect=draw(st.one_of(st.just(0.0), _rate)),
        max_norm=draw(_strength),
        weight_decay=draw(_strength),
        lr=draw(st.one_of(st.none(), st.floats(1e-6, 1.0))),
        batch_norm=draw(st.booleans()),
    )


@settings(max_examples=200, deadline=None)
@given(valid_strategies())
def test_text_round_trip(s: Strategy) -> None:
    text = strategy_to_text(s)
    back = parse_strategy(text)
    assert back == dataclasses.replace(s, name=text)
    assert strategy_to_text(back) == text


@settings(max_examples=100, deadline=None)
@given(valid_strategies())
def test_parts_together_give_the_whole(s: Strategy) -> None:
    names = parts(s)
    merged: dict[str, Any] = {}
    for name in names:
        part = parse_strategy(name)
        assert part.name == name  # each part is named as if typed alone
        for f in dataclasses.fields(Strategy):
            value = getattr(part, f.name)
            if f.name != "name" and value != f.default:
                merged[f.name] = value
    assert settings_of(Strategy(**merged)) == settings_of(s)
    assert is_combination(s) == (len(names) > 1)


# ------------------------------------------------------------------------------------ parts
PARTS = [
    ("preset-combo", "dropout+l2", ("dropout", "l2")),
    ("explicit-combo", "dropout=0.3+l2=1e-4", ("dropout=0.3", "l2=1e-4")),
    ("reordered", "l2+dropout", ("dropout", "l2")),
    ("non-canonical-number", "dropout=0.30+l2=0.0001", ("dropout=0.3", "l2=1e-4")),
    ("single", "dropout", ("dropout",)),
    ("none", "none", ("none",)),
    ("elasticnet-is-one", "elasticnet", ("elasticnet",)),
    ("l1-plus-l2-is-two", "l1+l2", ("l1", "l2")),
    ("override-stays-together", "dropout+dropout=0.5+maxnorm",
     ("dropout+dropout=0.5", "maxnorm")),
    ("gaussian-override", "gaussian-dropout+dropout=0.5", ("gaussian-dropout+dropout=0.5",)),
    ("three", "batchnorm+dropout+l2", ("batchnorm", "dropout", "l2")),
    ("proximal-joins-l1", "dropout+l1=1e-3+proximal", ("dropout", "l1=1e-3+proximal")),
    ("penalty-layers-joins-penalties", "l1+l2+maxnorm+penalty-layers=all",
     ("l1+penalty-layers=all", "l2+penalty-layers=all", "maxnorm")),
    ("lr-joins-all", "dropout+l2+lr=3e-3", ("dropout+lr=3e-3", "l2+lr=3e-3")),
    ("modifier-only", "l2=1e-3+penalty-layers=first", ("l2=1e-3+penalty-layers=first",)),
    ("custom-name", "my-favourite", ("my-favourite",)),
]  # fmt: skip


@pytest.mark.parametrize(("name", "expected"), [p[1:] for p in PARTS], ids=[p[0] for p in PARTS])
def test_parts(name: str, expected: tuple[str, ...]) -> None:
    assert parts(name) == expected
    assert is_combination(name) == (len(expected) > 1)


def test_parts_of_a_file_strategy_use_its_settings() -> None:
    s = Strategy(name="my-combo", dropout=0.5, l2=1e-3)
    assert parts(s) == ("dropout=0.5", "l2=1e-3")
    assert parts("my-combo") == ("my-combo",)
    assert parts(preset("dropout+maxnorm")) == ("dropout", "maxnorm")


def test_parts_of_combined_presets_are_presets() -> None:
    for name in PRESETS:
        assert all(p in PRESETS for p in parts(name)), name
        assert is_combination(name) == ("+" in name)


# ------------------------------------------------------------------------------------ describe
DESCRIBE = [
    ("none", "no regularization"),
    ("dropout=0.3+l2=1e-4", "dropout 0.3 + L2 1e-4"),
    ("elasticnet", "L1 5e-5 + L2 5e-5"),
    ("dropout=0.2/0.5+input-dropout=0.1", "input dropout 0.1 + dropout 0.2/0.5"),
    ("gaussian-dropout", "Gaussian dropout 0.3"),
    ("batchnorm+dropconnect", "batch norm + DropConnect 0.3"),
    ("l1=1e-3+proximal+penalty-layers=first", "L1 1e-3 (proximal) on the first layer"),
    ("maxnorm+weight-decay+lr=3e-3", "max-norm 3 + weight decay 0.01, lr 3e-3"),
]


@pytest.mark.parametrize(("text", "phrase"), DESCRIBE, ids=[t for t, _ in DESCRIBE])
def test_describe(text: str, phrase: str) -> None:
    assert describe(parse_strategy(text)) == phrase


# ------------------------------------------------------------------------------------ files
YAML_LIST = """\
- preset: dropout+l2
- name: wide-dropout
  dropout: [0.5, 0.2]
  input_dropout: 0.1
  penalty_layers: all
  l2: 1e-4            # YAML reads this as a string; numbers in strings are accepted
- grammar: l1=1e-3+proximal
  lr: 3e-3
- maxnorm+dropout=0.5
- name: sparse
  l1: 0.001
  l1_mode: proximal
  batch_norm: true
"""


def test_yaml_list(tmp_path: Path) -> None:
    path = tmp_path / "strategies.yaml"
    path.write_text(YAML_LIST)
    got = load_strategy_file(path)
    assert [s.name for s in got] == [
        "dropout+l2",
        "wide-dropout",
        "l1=1e-3+proximal+lr=3e-3",
        "dropout=0.5+maxnorm",
        "sparse",
    ]
    assert got[0] == preset("dropout+l2")
    assert got[1] == Strategy(
        name="wide-dropout", dropout=(0.5, 0.2), input_dropout=0.1, penalty_layers="all", l2=1e-4
    )
    assert settings_of(got[2]) == settings_of(Strategy(l1=1e-3, l1_mode="proximal", lr=3e-3))
    assert got[3].dropout == 0.5 and got[3].max_norm == 3.0
    assert got[4] == Strategy(name="sparse", l1=1e-3, l1_mode="proximal", batch_norm=True)


def test_yaml_mapping(tmp_path: Path) -> None:
    path = tmp_path / "s.yml"
    path.write_text(
        "baseline: {preset: none}\n"
        "per-layer:\n  dropout: [0.1, 0.3, 0.5]\n  dropout_kind: gaussian\n"
        "favourite: dropout+l2=1e-3\n"
        "dropout+maxnorm:\n"
        "stronger: {preset: dropout, dropout: 0.6}\n"
    )
    got = {s.name: s for s in load_strategy_file(path)}
    assert list(got) == ["baseline", "per-layer", "favourite", "dropout+maxnorm", "stronger"]
    assert settings_of(got["baseline"]) == settings_of(Strategy())
    assert got["per-layer"].dropout == (0.1, 0.3, 0.5)
    assert got["per-layer"].dropout_kind == "gaussian"
    assert got["favourite"].l2 == 1e-3 and got["favourite"].dropout == 0.3
    assert got["dropout+maxnorm"] == preset("dropout+maxnorm")
    assert got["stronger"].dropout == 0.6


def test_json_file(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    entries = [
        {"name": "a", "l1": 1e-4, "penalty_layers": "first"},
        {"dropout": [0.2, 0.4], "lr": 0.01},
        {"preset": "elasticnet", "l1_mode": "proximal"},
    ]
    path.write_text(json.dumps(entries))
    got = load_strategy_file(path)
    assert [s.name for s in got] == [
        "a",
        "dropout=0.2/0.4+lr=0.01",  # unnamed with fields: named by its canonical text
        "l1=5e-5+l2=5e-5+proximal",
    ]
    assert got[0] == Strategy(name="a", l1=1e-4, penalty_layers="first")
    assert got[1].dropout == (0.2, 0.4) and got[1].lr == 0.01
    assert got[2].l1_mode == "proximal" and got[2].l1 == 5e-5


def test_file_names_round_trip_through_text(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("- {name: mine, dropout: [0.1, 0.2], l2: 0.001, penalty_layers: all}\n")
    (s,) = load_strategy_file(path)
    assert settings_of(parse_strategy(strategy_to_text(s))) == settings_of(s)


FILE_ERRORS = [
    ("unknown-key", "s.yaml", "- {name: a, dropuot: 0.3}\n",
     "Strategy file '{p}', entry 1: `key` must be one of name, preset, grammar, l1, l2, "
     "l1_mode, penalty_layers, dropout, input_dropout, dropout_kind, drop_connect, max_norm, "
     "weight_decay, lr, batch_norm, schedules; got 'dropuot'. Did you mean 'dropout'?"),
    ("unknown-key-mapping", "s.yaml", "a:\n  maxnorm: 3\n",
     "Strategy file '{p}', entry 'a': `key` must be one of preset, grammar, l1, l2, l1_mode, "
     "penalty_layers, dropout, input_dropout, dropout_kind, drop_connect, max_norm, "
     "weight_decay, lr, batch_norm, schedules; got 'maxnorm'. Did you mean 'max_norm'?"),
    ("range", "s.yaml", "- {name: a, dropout: [0.5, 1.0]}\n",
     "Strategy file '{p}', entry 1: Strategy 'a': `dropout` must be a float in [0, 1); "
     "got 1.0."),
    ("range-json", "s.json", '{"b": {"l2": -1}}',
     "Strategy file '{p}', entry 'b': Strategy 'b': `l2` must be a finite float >= 0; "
     "got -1.0."),
    ("bad-number-string", "s.yaml", "- {name: a, l2: lots}\n",
     "Strategy file '{p}', entry 1: `l2` must be a number such as 1e-4; got 'lots'."),
    ("bad-choice", "s.yaml", "- {name: a, l1_mode: proximl}\n",
     "Strategy file '{p}', entry 1: Strategy 'a': `l1_mode` must be one of 'penalty', "
     "'proximal'; got 'proximl'. Did you mean 'proximal'?"),
    ("batch-norm-not-bool", "s.yaml", "- {name: a, batch_norm: 1}\n",
     "Strategy file '{p}', entry 1: `batch_norm` must be true or false; got 1."),
    ("unknown-preset", "s.yaml", "- {preset: dropot}\n",
     "Strategy file '{p}', entry 1: preset: `name` must be a preset name; got 'dropot'. "
     "Did you mean 'dropout'?"),
    ("bad-grammar", "s.yaml", "- {grammar: dropout=2}\n",
     "Strategy file '{p}', entry 1: Strategy 'dropout=2': `dropout` must be a float in [0, 1); "
     "got 2.0."),
    ("grammar-string", "s.yaml", "- l2=abc\n",
     "Strategy file '{p}', entry 1: Strategy 'l2=abc': `l2` must be a number such as 1e-4; "
     "got 'abc'."),
    ("preset-and-grammar", "s.yaml", "- {preset: l2, grammar: l1}\n",
     "Strategy file '{p}', entry 1: `preset` and `grammar` must not both be given."),
    ("name-in-mapping", "s.yaml", "a: {name: b, l2: 0.1}\n",
     "Strategy file '{p}', entry 'a': `name` must not be given; the mapping key names the "
     "entry."),
    ("empty-name", "s.yaml", "- {name: '', l2: 0.1}\n",
     "Strategy file '{p}', entry 1: `name` must be a non-empty string; got ''."),
    ("entry-type", "s.yaml", "- 3\n",
     "Strategy file '{p}', entry 1: `entry` must be a mapping of Strategy fields or a grammar "
     "string; got 'int'."),
    ("duplicate-names", "s.yaml", "- {name: a, l2: 0.1}\n- {name: a, l1: 0.1}\n",
     "Strategy file '{p}': strategy names must be distinct; got 'a' twice."),
    ("duplicate-settings", "s.yaml", "- {name: a, l2: 0.0001}\n- l2\n",
     "Strategy file '{p}': strategies must differ; got 'a' and 'l2', which have the same "
     "settings."),
    ("empty-file", "s.yaml", "",
     "Strategy file '{p}': `strategies` must be a non-empty list or mapping of strategies; "
     "got None."),
    ("scalar-file", "s.yaml", "dropout\n",
     "Strategy file '{p}': `strategies` must be a non-empty list or mapping of strategies; "
     "got 'str'."),
    ("invalid-yaml", "s.yaml", "- {name: a\n- l2\n",
     "load_strategy_file: '{p}' must hold valid YAML; got expected ',' or '}}', but got "
     "'<stream end>' at line 3, column 1."),
    ("invalid-json", "s.json", '[{"name": "a",}]',
     "load_strategy_file: '{p}' must hold valid JSON; got Expecting property name enclosed in "
     "double quotes at line 1, column 15."),
    ("bad-suffix", "s.txt", "dropout\n",
     "load_strategy_file: `path` must be a .yaml, .yml or .json file; got '{p}'."),
]  # fmt: skip


@pytest.mark.parametrize(
    ("filename", "content", "expected"),
    [e[1:] for e in FILE_ERRORS],
    ids=[e[0] for e in FILE_ERRORS],
)
def test_file_errors(tmp_path: Path, filename: str, content: str, expected: str) -> None:
    path = tmp_path / filename
    path.write_text(content)
    with pytest.raises(ConfigError, match=_msg(expected.format(p=path))):
        load_strategy_file(path)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    expected = f"load_strategy_file: `path` must be a readable file; got '{path}' "
    with pytest.raises(ConfigError, match=_msg(expected + "(No such file or directory).")):
        load_strategy_file(path)


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    path = tmp_path / "dir.yaml"
    path.mkdir()
    with pytest.raises(ConfigError, match=r"^load_strategy_file: `path` must be a readable file"):
        load_strategy_file(path)


# ------------------------------------------------------------------------------------ resolve
def test_resolve_strategies_accepts_every_form(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("- {name: from-file, l1: 0.01}\n")
    assert resolve_strategies(path) == resolve_strategies(str(path))
    got = resolve_strategies(
        [
            "none, dropout",
            preset("l2"),
            {"name": "x", "max_norm": 2},
            path,
            Strategy(name="y", l2=0.5),
        ]
    )
    assert [s.name for s in got] == ["none", "dropout", "l2", "x", "from-file", "y"]
    assert got[3].max_norm == 2.0
    assert [s.name for s in resolve_strategies({"a": {"l1": 0.1}})] == ["a"]


RESOLVE_ERRORS = [
    ("duplicate", ["dropout", "dropout"],
     "resolve_strategies: strategy names must be distinct; got 'dropout' twice."),
    ("empty-list", [], "resolve_strategies: `strategies` must be non-empty; got []."),
    ("wrong-type", 3,
     "resolve_strategies: `strategies` must be strategy text, a Strategy, a file path or a "
     "list of these; got 3."),
]  # fmt: skip


@pytest.mark.parametrize(
    ("spec", "expected"), [e[1:] for e in RESOLVE_ERRORS], ids=[e[0] for e in RESOLVE_ERRORS]
)
def test_resolve_strategies_errors(spec: Any, expected: str) -> None:
    with pytest.raises(ConfigError, match=_msg(expected)):
        resolve_strategies(spec)
