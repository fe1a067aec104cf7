"""Parametrization techniques in the engine: ``sparse-vd`` and ``learned-dropout``.

Equivalence: a one-member stack equals the single model (``single_model`` with the member's
initial weights, its variational layers sharing the member's noise generator) trained by
:func:`reglab.fit`. Independence: a member's result is the same bits alone and in any stack.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import reglab
from reglab._seeding import derive, generator
from reglab.engine import MemberSpec, initial_weights, stream_seeds, train_members
from reglab.engine.export import single_model
from reglab.errors import ConfigError
from reglab.layers import SparseVDLinear
from reglab.layers.variational_dense import _Variational
from reglab.techniques import TechniqueConfig

from .conftest import data_for, member

SVD = TechniqueConfig("sparse-vd", (("threshold", 3.0), ("warmup", 0.0)))
CASES = {
    "sparse-vd": SVD,
    "sparse-vd-threshold-1": TechniqueConfig("sparse-vd", (("threshold", 1.0), ("warmup", 0))),
    "sparse-vd-warmup": TechniqueConfig("sparse-vd", (("threshold", 3.0), ("warmup", 2.5))),
    "learned-dropout-unit": TechniqueConfig(
        "learned-dropout", (("alpha", 0.3), ("per_layer", 0.0))
    ),
    "learned-dropout-layer": TechniqueConfig(
        "learned-dropout", (("alpha", 0.5), ("per_layer", 1.0))
    ),
}


def _member(
    config: TechniqueConfig, seed: int = 7, epochs: int = 4, **options: object
) -> MemberSpec:
    # 54 training rows in batches of 18: every batch full, so the single model draws the
    # engine's noise shapes.
    train = {"batch_size": 18, "epochs": epochs}
    return member(n=90, seed=seed, train=train, techniques=(config,), **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", list(CASES))
def test_one_member_stack_equals_the_single_model(name: str) -> None:
    spec = _member(CASES[name], l2=1e-3)
    data = data_for("multiclass")
    x, y = data[0]
    (result,) = train_members([spec], data, device="cpu")
    assert result.status == "ok", result.error

    model = single_model(spec.arch, spec.strategy, n_train=len(spec.train_idx))
    model.load_state_dict({k: torch.as_tensor(v) for k, v in initial_weights(spec).items()})
    noise = generator(derive(spec.seed, "technique", spec.strategy.techniques[0].key))
    layers = [m for m in model.modules() if isinstance(m, _Variational)]
    assert len(layers) == 3
    for layer in layers:
        layer.generator = noise  # one stream, drawn layer by layer, as the engine does
    history = reglab.fit(
        model, x[spec.train_idx], y[spec.train_idx], task="multiclass", lr=spec.lr,
        epochs=spec.train.epochs, batch_size=18, validation_data=(x[spec.val_idx],
        y[spec.val_idx]), device="cpu", seed=stream_seeds(spec.seed)["order"],
    )  # fmt: skip

    expected = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    for prefix, layer in zip(("dense0", "dense1", "output"), layers, strict=True):
        if isinstance(layer, SparseVDLinear):  # members export the pruned kernel
            expected[f"{prefix}.weight"] = layer.pruned_weight().detach().numpy()
    assert set(result.weights) == set(expected)
    for key, value in expected.items():
        np.testing.assert_allclose(result.weights[key], value, rtol=1e-4, atol=2e-5, err_msg=key)
    np.testing.assert_allclose(result.curves["val_loss"], history.val_loss, rtol=1e-4, atol=1e-5)
    with torch.no_grad():
        out = model.eval()(torch.as_tensor(x[spec.test_idx])).double()
    np.testing.assert_allclose(result.test_pred, torch.softmax(out, 1).numpy(), atol=1e-4)


def test_a_member_is_the_same_bits_alone_and_in_any_stack() -> None:
    data = data_for("multiclass", splits=2)
    target = _member(SVD, seed=3)
    others = [
        _member(
            TechniqueConfig("sparse-vd", (("threshold", 2.0), ("warmup", 3))), seed=11, split_id=1
        ),
        _member(SVD, seed=5, l2=1e-2),
        member(n=90, seed=3, train={"batch_size": 18, "epochs": 4}),
        _member(CASES["learned-dropout-unit"], seed=3),
        _member(CASES["learned-dropout-layer"], seed=4),
    ]
    (alone,) = train_members([target], data, device="cpu")
    stacked = train_members([others[0], target, *others[1:]], data, device="cpu")[1]
    assert alone.key == stacked.key
    for key, value in alone.weights.items():
        assert np.array_equal(value, stacked.weights[key]), key
    assert alone.curves == stacked.curves
    assert np.array_equal(alone.test_pred, stacked.test_pred)


def test_members_record_the_pruned_share_as_their_sparsity() -> None:
    spec = _member(SVD, seed=1, epochs=25, lr=3e-2)
    (result,) = train_members([spec], data_for("multiclass"), device="cpu")
    for layer in ("dense0", "dense1", "output"):
        w = result.weights[f"{layer}.weight"]
        assert result.sparsity[layer] == pytest.approx(float(np.mean(w == 0)))
    assert max(result.sparsity.values()) > 0.2  # 54 rows: the KL prunes much
    for layer in ("dense0", "dense1", "output"):
        edges, counts = result.weight_hist[f"{layer}.log_alpha"]
        w = result.weights[f"{layer}.weight"]
        assert (edges[0], edges[-1]) == (-8.0, 8.0) and sum(counts) == w.size
        assert counts[-1] >= int(np.sum(w == 0))  # pruned weights count at the clip, 8
    assert min(result.curves["penalty"]) > 0  # KL / N is the penalty curve


def test_two_parametrizations_in_one_strategy_are_refused() -> None:
    spec = member(techniques=(SVD, CASES["learned-dropout-unit"]))
    with pytest.raises(ConfigError, match="at most one technique that reparametrizes"):
        train_members([spec], data_for("multiclass"), device="cpu")


def test_a_large_kl_per_example_is_not_judged_a_diverged_penalty() -> None:
    # 512 weights on 54 rows: KL/N is many times the chance loss, and rightly so.
    spec = member(n=90, hidden=(64,), train={"batch_size": 18, "epochs": 2}, techniques=(SVD,))
    (result,) = train_members([spec], data_for("multiclass"), device="cpu")
    assert max(result.curves["penalty"]) > 10 * np.log(3)
    assert result.status == "ok", result.error


def test_members_finishing_apart_are_scored_with_their_own_settings() -> None:
    # A member that ends before its stack neighbours is scored on its own: the evaluation
    # kernels of that subset must use its threshold, not the whole stack's.
    import dataclasses

    data = data_for("multiclass", splits=2)
    early = dataclasses.replace(
        _member(TechniqueConfig("sparse-vd", (("threshold", 1.0), ("warmup", 0.0))), seed=3,
                epochs=2),
        robust_eps=0.1,
    )  # fmt: skip
    later = [_member(SVD, seed=5, epochs=5), _member(SVD, seed=6, epochs=4, split_id=1)]
    (alone,) = train_members([early], data, device="cpu")
    stacked = train_members([later[0], early, later[1]], data, device="cpu")
    assert all(r.ok for r in stacked), [r.error for r in stacked]
    assert np.array_equal(alone.test_pred, stacked[1].test_pred)
    assert alone.test_scores == stacked[1].test_scores
    assert 0.0 <= stacked[1].test_scores["robust_accuracy"] <= 1.0
