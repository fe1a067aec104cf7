"""reglab.optim: Lookahead equals the paper's Algorithm 1 written out by hand; the snapshot
schedule equals Huang et al.'s formula; the ensemble is the hand mean of its snapshots."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from reglab.errors import ConfigError
from reglab.layers import MLP
from reglab.layers.snapshot import SnapshotEnsemble, ensemble_mean
from reglab.optim import Lookahead, SnapshotCycles, snapshot_lr, snapshot_steps


def _problem(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(32, 4, generator=g)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 3.0]) + 0.1 * torch.randn(32, generator=g)
    return x, y


def _loss(w: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return ((x @ w - y) ** 2).mean()


@pytest.mark.parametrize(
    ("k", "alpha", "inner"), [(5, 0.5, "sgd"), (3, 0.8, "adam"), (1, 1.0, "sgd")]
)
def test_lookahead_equals_a_hand_transcription_of_algorithm_1(
    k: int, alpha: float, inner: str
) -> None:
    x, y = _problem()
    lr, rounds = 0.05, 7
    w = torch.nn.Parameter(torch.zeros(4))
    make = torch.optim.SGD if inner == "sgd" else torch.optim.Adam
    opt = Lookahead(make([w], lr=lr), k=k, alpha=alpha)
    for _ in range(rounds * k):
        opt.zero_grad()
        _loss(w, x, y).backward()
        opt.step()

    # Algorithm 1: φ₀ = θ₀; per round θ_{t,0} = φ_{t−1}, then k inner steps,
    # then φ_t = φ_{t−1} + α(θ_{t,k} − φ_{t−1})
    phi = torch.zeros(4, dtype=torch.float64)
    theta = torch.nn.Parameter(torch.zeros(4, dtype=torch.float64))
    inner_opt = make([theta], lr=lr)
    for _ in range(rounds):
        with torch.no_grad():
            theta.copy_(phi)
        for _ in range(k):
            inner_opt.zero_grad()
            _loss(theta, x.double(), y.double()).backward()
            inner_opt.step()
        phi = phi + alpha * (theta.detach() - phi)
    np.testing.assert_allclose(w.detach().numpy(), phi.numpy(), rtol=1e-5, atol=1e-6)


def test_lookahead_evaluates_slow_weights_between_synchronizations() -> None:
    x, y = _problem()
    w = torch.nn.Parameter(torch.zeros(4))
    opt = Lookahead(torch.optim.SGD([w], lr=0.05), k=4, alpha=0.5)
    for _ in range(6):  # one synchronization at step 4, two fast steps after it
        opt.zero_grad()
        _loss(w, x, y).backward()
        opt.step()
    fast = w.detach().clone()
    with opt.slow_weights():
        slow = w.detach().clone()
    assert torch.equal(w.detach(), fast) and not torch.equal(slow, fast)
    opt.load_slow_weights()
    assert torch.equal(w.detach(), slow)


@pytest.mark.parametrize(("total", "cycles"), [(50, 4), (24, 3), (7, 2), (100, 6)])
def test_the_snapshot_schedule_is_huangs_formula(total: int, cycles: int) -> None:
    w = torch.nn.Parameter(torch.zeros(2))
    lr0 = 0.1
    opt = SnapshotCycles(torch.optim.SGD([w], lr=lr0), total_steps=total, cycles=cycles)
    used = []
    for _ in range(total):
        used.append(opt.param_groups[0]["lr"])
        opt.zero_grad()
        (w * torch.tensor([1.0, -1.0])).sum().backward()
        opt.step()
    c = math.ceil(total / cycles)
    formula = [lr0 / 2 * (math.cos(math.pi * ((t - 1) % c) / c) + 1) for t in range(1, total + 1)]
    np.testing.assert_allclose(used, formula, rtol=1e-12)
    assert [snapshot_lr(t, lr0, c) for t in range(1, total + 1)] == pytest.approx(formula)
    assert len(opt.snapshots) == cycles
    assert snapshot_steps(total, cycles) == [c * j for j in range(1, cycles)] + [total]


@pytest.mark.parametrize("task", ["multiclass", "binary", "regression"])
def test_the_ensemble_is_the_hand_mean_of_its_snapshots(task: str) -> None:
    torch.manual_seed(0)
    out = 3 if task == "multiclass" else 1
    nets = [MLP(4, out, hidden=(5,)).eval() for _ in range(3)]
    x = torch.randn(7, 4)
    with torch.no_grad():
        z = [n(x) for n in nets]
        got = SnapshotEnsemble(nets, task).eval()(x)
    if task == "multiclass":
        np.testing.assert_allclose(
            got.softmax(-1), torch.stack([v.softmax(-1) for v in z]).mean(0), atol=1e-6
        )
    elif task == "binary":
        np.testing.assert_allclose(
            torch.sigmoid(got), torch.stack([torch.sigmoid(v) for v in z]).mean(0), atol=1e-6
        )
    else:
        np.testing.assert_allclose(got, torch.stack(z).mean(0), atol=1e-6)


def test_ensemble_mean_counts_only_the_included_snapshots() -> None:
    z = torch.tensor([[[4.0, 0.0]], [[0.0, 4.0]], [[9.0, -9.0]]])
    include = torch.tensor([True, True, False]).view(3, 1, 1)
    p = ensemble_mean(z, include, "multiclass").softmax(-1)
    np.testing.assert_allclose(p, [[0.5, 0.5]], atol=1e-6)


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda w: Lookahead(torch.optim.SGD([w], lr=0.1), k=0), r"`k` must be a whole number"),
        (
            lambda w: Lookahead(torch.optim.SGD([w], lr=0.1), alpha=1.5),
            r"`alpha` must be a number in \(0, 1\]",
        ),
        (
            lambda w: Lookahead(torch.optim.SGD([w], lr=0.1), alpha=0.0),
            r"`alpha` must be a number in \(0, 1\]",
        ),
        (
            lambda w: SnapshotCycles(torch.optim.SGD([w], lr=0.1), 10, 11),
            r"`snapshot` must be a number of cycles in \[1, 10\]",
        ),
        (lambda w: SnapshotCycles(torch.optim.SGD([w], lr=0.1), 0, 2), r"`total_steps` must be"),
    ],
    ids=["k=0", "alpha>1", "alpha=0", "cycles>steps", "no-steps"],
)
def test_bad_arguments_are_refused_in_one_line(build, match: str) -> None:  # type: ignore[no-untyped-def]
    w = torch.nn.Parameter(torch.zeros(2))
    with pytest.raises(ConfigError, match=match) as err:
        build(w)
    assert "\n" not in str(err.value)
