"""The ``residual-mlp`` family and ShakeDrop.

* ShakeDrop's maths against a hand-written autograd function (forward gate, β in the
  backward pass) and its gates' expected values;
* equivalence: a one-member stack equals the exported ``ResidualMLP`` started from the
  member's initial weights and trained by :func:`reglab.fit` (ShakeDrop's uniforms from the
  member's own technique stream);
* independence: a member's result is the same bits alone, in a stack and in reversed order;
* bad input: one line each.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
import torch

import reglab
from reglab._seeding import derive, generator
from reglab.engine import MemberSpec, initial_weights, stream_seeds, train_members
from reglab.engine.family import family_of
from reglab.engine.residual import ResidualArchitecture, shake_rate
from reglab.engine.skip import dense_architecture
from reglab.errors import ConfigError
from reglab.layers import ResidualMLP, ShakeDrop
from reglab.layers.shakedrop import depth_rates, shake_drop, shake_gates
from reglab.study.strategies import describe, parse_strategy
from reglab.techniques import TechniqueConfig
from reglab.training import EarlyStopping

from .conftest import chunk_budget, data_for, split_indices

Tensor = torch.Tensor

# -- ShakeDrop's maths ------------------------------------------------------------------------


class _HandShakeDrop(torch.autograd.Function):
    """Yamada et al. (2018), eq. (8)-(9), written out: forward with α, backward with β."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, b: Tensor, alpha: Tensor, beta: Tensor) -> Tensor:
        ctx.save_for_backward(b, beta)
        return x * (b + alpha - b * alpha)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        b, beta = ctx.saved_tensors
        return grad * (b + beta - b * beta), None, None, None


def test_shake_drop_forward_and_backward_equal_the_hand_function() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 4, generator=g, dtype=torch.float64)
    u = torch.rand(3, 6, 1, generator=g, dtype=torch.float64)
    p = torch.tensor(0.5, dtype=torch.float64)
    forward, backward = shake_gates(u[0], u[1], u[2], p)
    b = (u[0] < 0.5).double()
    alpha, beta = 2 * u[1] - 1, u[2]
    assert 0 < int(b.sum()) < 6  # both kinds of example occur
    weight = torch.randn(6, 4, generator=g, dtype=torch.float64)

    mine = x.clone().requires_grad_()
    (shake_drop(mine, forward, backward) * weight).sum().backward()
    hand = x.clone().requires_grad_()
    (_HandShakeDrop.apply(hand, b, alpha, beta) * weight).sum().backward()
    torch.testing.assert_close(shake_drop(x, forward, backward), x * (b + alpha - b * alpha))
    torch.testing.assert_close(mine.grad, hand.grad)
    # kept examples pass gradients unchanged; dropped ones are scaled by β, not by α
    kept = b[:, 0] == 1
    torch.testing.assert_close(mine.grad[kept], weight[kept])
    torch.testing.assert_close(mine.grad[~kept], weight[~kept] * beta[~kept])
    assert mine.grad is not None and not torch.allclose(
        mine.grad[~kept], weight[~kept] * alpha[~kept]
    )


@pytest.mark.parametrize("p", [0.0, 0.25, 0.5, 1.0])
def test_the_gates_expected_values(p: float) -> None:
    n = 400_000
    u = torch.rand(3, n, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    forward, backward = shake_gates(u[0], u[1], u[2], torch.tensor(p, dtype=torch.float64))
    # E[b + α − bα] = 1 − p (evaluation's multiplier); E[b + β − bβ] = 1 − p/2
    sd = 1 / np.sqrt(n)
    assert abs(float(forward.mean()) - (1 - p)) < 5 * sd
    assert abs(float(backward.mean()) - (1 - p / 2)) < 5 * sd
    assert float(forward.min()) >= -1 and float(forward.max()) <= 1
    if p == 0:
        assert bool((forward == 1).all() and (backward == 1).all())
    layer = ShakeDrop(p, generator=0).eval()
    torch.testing.assert_close(layer(torch.ones(2, 3)), torch.full((2, 3), 1.0 - p))


def test_depth_rates_rise_linearly_to_p() -> None:
    assert depth_rates(0.5, 1) == (0.5,)
    np.testing.assert_allclose(depth_rates(0.6, 3), [0.2, 0.4, 0.6])
    net = ResidualMLP(4, 2, hidden=(8, 8, 8, 8), shake_drop=0.5)
    np.testing.assert_allclose([b.shake_rate for b in net.blocks], [0.125, 0.25, 0.375, 0.5])


# -- equivalence: one member ≡ reglab.fit on the exported ResidualMLP ---------------------------

# With ShakeDrop each branch ends in batch norm, so its second kernel's bias has no gradient in
# exact arithmetic; Adam would turn the two implementations' different round-off there into
# steps of size lr. Those cases train with SGD, as the batch-norm case does.
SGD: dict[str, Any] = {"optimizer": "sgd", "lr": 0.1}
CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("plain", "residual", {}),
    ("l1-l2", "residual+l1=1e-3+l2=1e-3", {}),
    ("l2-all", "residual+l2=1e-2+penalty-layers=all", {}),
    ("l1-proximal-first", "residual+l1=3e-3+proximal+penalty-layers=first", {}),
    ("max-norm", "residual+maxnorm=0.5", {}),
    ("weight-decay", "residual+weight-decay=0.1", {}),
    ("shake-drop", "residual+shake-drop", {"train": SGD}),
    ("shake-drop-adam-no-branch-norm", "residual+shake-drop", {"branch_norm": False}),
    ("shake-drop-uneven", "residual+shake-drop=0.8", {"train": {"batch_size": 20, **SGD}}),
    (
        "shake-drop-l2-early-stop",
        "residual+shake-drop+l2=1e-3",
        {"train": {"epochs": 10, "patience": 2, **SGD}},
    ),
    ("batch-norm", "residual+batchnorm", {"train": SGD}),
    ("batch-norm-shake-drop", "residual+batchnorm+shake-drop=0.6", {"train": {**SGD, "lr": 0.02}}),
    ("binary", "residual+shake-drop", {"task": "binary", "train": SGD}),
    ("regression", "residual+l1=1e-3", {"task": "regression"}),
    ("inner-widths", "residual+shake-drop", {"hidden": (8, 4, 6), "train": SGD}),
]


def _member(
    text: str,
    *,
    task: str = "multiclass",
    hidden: tuple[int, ...] = (8, 8),
    train: dict[str, Any] | None = None,
    seed: int = 7,
    n: int = 90,
    branch_norm: bool | None = None,
) -> MemberSpec:
    """``branch_norm=None``: as a study builds it (on with ``shake-drop``)."""
    strategy = parse_strategy(text)
    out = {"multiclass": 3, "binary": 1, "regression": 1}[task]
    norm = shake_rate(strategy) > 0 if branch_norm is None else branch_norm
    arch = ResidualArchitecture(5, out, hidden=hidden, task=task, batch_norm=strategy.batch_norm,
                                branch_norm=norm)  # fmt: skip
    cfg = reglab.engine.TrainConfig(**{"epochs": 4, "batch_size": 18, "patience": None,
                                      **(train or {})})  # fmt: skip
    tr, va, te = split_indices(n)
    return MemberSpec(arch, strategy, cfg, tr, va, te, seed=seed)


def _fit_single(spec: MemberSpec, x: np.ndarray, y: np.ndarray) -> tuple[ResidualMLP, Any, Any]:
    model = family_of(spec.arch).export(spec.arch, spec.strategy)
    assert isinstance(model, ResidualMLP)
    model.load_state_dict({k: torch.as_tensor(v) for k, v in initial_weights(spec).items()})
    model.shake_generator = generator(derive(spec.seed, "technique", "shake-drop"))
    scale = np.array([0.0, 1.0])
    if spec.arch.task == "regression":
        scale = np.array([y[spec.train_idx].mean(), y[spec.train_idx].std()])
        y = (y - scale[0]) / scale[1]
    cfg = spec.train
    stopper = None if cfg.patience is None else EarlyStopping(patience=cfg.patience)
    history = reglab.fit(
        model, x[spec.train_idx], y[spec.train_idx], task=spec.arch.task,
        optimizer=cfg.optimizer, lr=spec.lr, weight_decay=spec.strategy.weight_decay,
        epochs=cfg.epochs, batch_size=cfg.batch_size,
        validation_data=(x[spec.val_idx], y[spec.val_idx]), early_stopping=stopper,
        device="cpu", seed=stream_seeds(spec.seed)["order"],
    )  # fmt: skip
    return model, history, scale


@pytest.mark.parametrize(("name", "text", "options"), CASES, ids=[c[0] for c in CASES])
def test_one_member_stack_equals_fit_on_the_exported_module(
    name: str, text: str, options: dict[str, Any]
) -> None:
    options = dict(options)
    task = options.get("task", "multiclass")
    spec = _member(text, **options)
    data = data_for(task)
    x, y = data[0]
    (result,) = train_members([spec], data, device="cpu")
    assert result.status == "ok", result.error
    model, history, scale = _fit_single(spec, x, np.asarray(y))
    expected = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    assert set(result.weights) == set(expected)
    for key, value in expected.items():
        np.testing.assert_allclose(result.weights[key], value, rtol=1e-4, atol=2e-5, err_msg=key)
    assert (result.epochs_run, result.best_epoch) == (len(history), history.best_epoch)
    np.testing.assert_allclose(result.curves["val_loss"], history.val_loss, rtol=1e-4, atol=1e-5)
    with torch.no_grad():
        out = model.eval()(torch.as_tensor(x[spec.test_idx])).double()
    if task == "multiclass":
        pred = torch.softmax(out, 1).numpy()
    elif task == "binary":
        p1 = torch.sigmoid(out[:, 0]).numpy()
        pred = np.stack([1 - p1, p1], axis=1)
    else:
        pred = out[:, 0].numpy() * scale[1] + scale[0]
    np.testing.assert_allclose(result.test_pred, pred, rtol=1e-4, atol=1e-4)


def test_shake_drop_changes_training_and_its_evaluation_scales_the_branches() -> None:
    data = data_for("multiclass")
    plain, shaken = train_members(
        [_member("residual"), _member("residual+shake-drop=0.9")], data, device="cpu"
    )
    assert not np.array_equal(plain.weights["project.weight"], shaken.weights["project.weight"])
    # every noisy draw came from the member's own stream: a different seed, other weights
    (other,) = train_members([_member("residual+shake-drop=0.9", seed=8)], data, device="cpu")
    assert not np.array_equal(other.weights["output.weight"], shaken.weights["output.weight"])


# -- independence ------------------------------------------------------------------------------

STRATEGIES = [
    "residual",
    "residual+dropout=0.3",
    "residual+shake-drop",
    "residual+l2=1e-3",
    "residual+shake-drop=0.7+dropout=0.2/0.1",
    "residual+input-dropout=0.1+dropconnect=0.2",
    "residual+gaussian-dropout=0.2+maxnorm=2",
    "residual+mixup=0.2+shake-drop",
    "residual+batchnorm+shake-drop=0.6",
    "residual+batchnorm+dropout=0.1",
]


@pytest.mark.usefixtures("small_budgets")
def test_members_are_the_same_bits_alone_stacked_and_chunked() -> None:
    data = data_for("multiclass", splits=2)
    specs = [
        dataclasses.replace(_member(s, train={"batch_size": 16}, seed=i), split_id=i % 2)
        for i, s in enumerate(STRATEGIES)
    ]
    together = train_members(specs, data, device="cpu")
    reverse = train_members(specs[::-1], data, device="cpu")[::-1]
    chunked = train_members(
        specs, data, device="cpu", memory_budget_mb=chunk_budget(specs, data, 3)
    )
    for i, spec in enumerate(specs):
        (alone,) = train_members([spec], data, device="cpu")
        for other in (together[i], reverse[i], chunked[i]):
            assert other.status == alone.status == "ok", spec.strategy.name
            for key, value in alone.weights.items():
                assert np.array_equal(value, other.weights[key]), (spec.strategy.name, key)
            assert np.array_equal(alone.test_pred, other.test_pred), spec.strategy.name
            for curve, values in alone.curves.items():
                assert np.array_equal(values, other.curves[curve], equal_nan=True), curve


# -- stability: ShakeDrop's branches end in batch norm --------------------------------------------


def test_shake_drop_at_its_default_trains_as_well_as_the_plain_residual_network() -> None:
    """Digits (1,200 training rows), four blocks of 64, Adam 3e-3, 10 epochs, three seeds. With
    branches ending in their Dense layer ShakeDrop at P = 0.5 diverges here on every seed (the
    reversed branches grow without bound); ending in batch norm, as a study now builds them,
    it trains and scores at least as the plain residual network, less two points."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x, y = (x / 16.0).astype(np.float32), y.astype(np.int64)
    scores = {}
    for text in ("residual", "residual+shake-drop"):
        strategy = parse_strategy(text)
        arch = dense_architecture(strategy, in_features=64, out_features=10, hidden=(64,) * 4)
        specs = []
        for seed in range(3):
            perm = np.random.default_rng(seed).permutation(len(y))
            cfg = reglab.engine.TrainConfig(epochs=10, batch_size=32, patience=None, lr=3e-3)
            specs.append(MemberSpec(arch, strategy, cfg, perm[:1200], perm[:0], perm[1200:],
                                    seed=seed))  # fmt: skip
        results = train_members(specs, {0: (x, y)}, device="cpu")
        assert [r.status for r in results] == ["ok"] * 3, [r.error for r in results]
        assert all(np.isfinite(r.curves["train_loss"]).all() for r in results)
        hits = [r.test_pred.argmax(1) == y[s.test_idx] for r, s in zip(results, specs, strict=True)]
        scores[text] = float(np.mean([h.mean() for h in hits]))
    assert scores["residual"] > 0.9  # the comparison is between two networks that learned
    assert scores["residual+shake-drop"] >= scores["residual"] - 0.02, scores


def test_branch_norms_come_with_shake_drop_in_the_layer_and_the_key() -> None:
    def children(net: ResidualMLP) -> list[str]:
        return [name for name, _ in net.blocks[0].named_children()]

    assert "out_norm" in children(ResidualMLP(4, 2, hidden=(8,), shake_drop=0.5))
    assert "out_norm" not in children(ResidualMLP(4, 2, hidden=(8,)))
    assert "out_norm" not in children(ResidualMLP(4, 2, hidden=(8,), shake_drop=0.5,
                                                  branch_norm=False))  # fmt: skip
    assert "out_norm" in children(ResidualMLP(4, 2, hidden=(8,), branch_norm=True))
    net = ResidualMLP(4, 2, hidden=(8, 8), shake_drop=0.5)
    rebuilt = ResidualMLP.from_config(net.get_config())
    assert rebuilt.get_config() == net.get_config() and rebuilt.branch_norm is None
    assert set(rebuilt.state_dict()) == set(net.state_dict())
    # the branch's end is normalized per unit: in evaluation with fresh statistics it is
    # γ·z/√(1 + ε) + β, here z itself, scaled by ShakeDrop's 1 − p_l
    block = ResidualMLP(4, 2, hidden=(8,), shake_drop=0.5, branch_norm=True).blocks[0].eval()
    h = torch.randn(5, 8)
    z = block.dense1(block.act(block.dense0(h)))
    torch.testing.assert_close(block(h), h + 0.5 * z / (1 + 1e-5) ** 0.5)
    # a residual member without branch norms keeps the key it had before they existed
    spec = MemberSpec(
        dense_architecture(parse_strategy("residual"), in_features=5, out_features=3,
                           hidden=(8, 8)),
        parse_strategy("residual"), reglab.engine.TrainConfig(epochs=3, batch_size=4),
        np.arange(10), np.arange(2), np.arange(2, 4), seed=3,
    )  # fmt: skip
    assert spec.key() == "a8c6b67d35e45ecb70d355117b2d1f77"
    shaken = _member("residual+shake-drop")
    old_form = _member("residual+shake-drop", branch_norm=False)
    assert shaken.key() != old_form.key() and shaken.stack_key != old_form.stack_key


def test_a_final_model_keeps_its_branch_norms_through_save_and_load(tmp_path: Any) -> None:
    from sklearn.datasets import load_iris

    from reglab.final.model import _architecture

    x, y = load_iris(return_X_y=True)
    model = reglab.fit_final(x, y, strategy="residual+shake-drop", early_stopping=False,
                             epochs=3, hidden=(8, 8), device="cpu")  # fmt: skip
    assert isinstance(model.arch, ResidualArchitecture) and model.arch.branch_norm
    loaded = reglab.load(model.save(tmp_path / "shake.reglab"))
    assert loaded.arch == model.arch
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))
    # a file written before branch norms existed describes a network without them
    fields = dataclasses.asdict(model.arch)
    del fields["branch_norm"]
    old = _architecture({"architecture": fields, "family": "residual-mlp"}, model.strategy)
    assert isinstance(old, ResidualArchitecture) and old.branch_norm is False


def test_the_exported_module_predicts_what_the_member_predicted() -> None:
    data = data_for("multiclass")
    spec = _member("residual+shake-drop+dropout=0.2+batchnorm", hidden=(8, 8, 8))
    (result,) = train_members([spec], data, device="cpu")
    model = family_of(spec.arch).export(spec.arch, spec.strategy)
    model.load_state_dict({k: torch.as_tensor(v) for k, v in result.weights.items()})
    with torch.no_grad():
        out = model.eval()(torch.as_tensor(data[0][0][spec.test_idx]))
    np.testing.assert_allclose(result.test_pred, torch.softmax(out, 1).numpy(), atol=1e-5)
    assert "blocks.2.dense1" in result.weight_hist and len(result.feature_norms) == 5


# -- grammar and bad input ---------------------------------------------------------------------


def test_grammar_labels_and_architecture() -> None:
    s = parse_strategy("shake-drop=0.5+residual+dropout=0.1")
    assert s.name == "residual+dropout=0.1+shake-drop"
    assert [c.key for c in s.techniques] == ["residual", "shake-drop"]
    assert describe(s) == "residual blocks + dropout 0.1 + ShakeDrop"
    assert parse_strategy("residual+shake-drop=0.3").name == "residual+shake-drop=0.3"

    arch = dense_architecture(s, in_features=4, out_features=2, hidden=(8, 8))
    assert type(arch) is ResidualArchitecture and family_of(arch).name == "residual-mlp"
    # ShakeDrop's branches end in batch norm; a plain residual network's do not
    assert arch.branch_norm is True
    plain = dense_architecture(parse_strategy("residual"), in_features=4, out_features=2)
    assert isinstance(plain, ResidualArchitecture) and plain.branch_norm is False


BAD = {
    "shake-drop alone": ("shake-drop=0.3", r"`shake-drop` must be used with `residual`"),
    "rate above one": ("residual+shake-drop=1.5", r"`rate` must be a number in \[0, 1\]; got 1\.5"),
    "residual with a value": ("residual=2", r"`residual` must be given without a value"),
    "shake-drop off": ("residual+shake-drop=0", r"a value that turns it on"),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_strategies_are_refused_in_one_line(case: str) -> None:
    text, pattern = BAD[case]
    with pytest.raises(ConfigError, match=pattern) as info:
        parse_strategy(text)
    assert "\n" not in str(info.value)


def test_terms_the_family_cannot_train_are_refused_before_training() -> None:
    data = data_for("multiclass")
    bad = _member("residual+sparse-vd")
    with pytest.raises(ConfigError, match=r"free of `sparse-vd`, which acts on mlp members only"):
        train_members([bad], data, device="cpu")
    lasso = _member("residual+lassonet=10")
    with pytest.raises(ConfigError, match=r"`lassonet`, which acts on skip-mlp members only"):
        train_members([lasso], data, device="cpu")
    with pytest.raises(ConfigError, match=r"`block_order` must be 'bn-act-drop' with batch norm"):
        ResidualArchitecture(4, 2, batch_norm=True, block_order="act-bn-drop")
    with pytest.raises(ConfigError, match=r"ResidualMLP: `shake_drop` must be a float in \[0, 1\]"):
        ResidualMLP(4, 2, shake_drop=2.0)
    with pytest.raises(ConfigError, match=r"ResidualMLP: `branch_norm` must be a bool or None"):
        ResidualMLP(4, 2, branch_norm="yes")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"ResidualArchitecture: `branch_norm` must be a bool"):
        ResidualArchitecture(4, 2, branch_norm=1)  # type: ignore[arg-type]
    assert TechniqueConfig("residual").to_dict() == {"key": "residual", "params": {}}
