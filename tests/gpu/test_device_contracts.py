"""The engine's contracts on a GPU: independence to the bit, and agreement with the CPU and with
``reglab.fit`` within a stated float tolerance.

On one device a member's result must not depend on its stack neighbours or on chunking
(DESIGN §6), for every model family. Across devices the arithmetic differs (cuBLAS and cuDNN
kernels, TF32 off, fused multiply-adds), so a member trained on the GPU is compared with the
same member on the CPU, and a one-member stack with ``reglab.fit`` on the same GPU, within
``rtol = 1e-3`` and ``atol = 1e-4`` on the weights after a few epochs (a tolerance of the order
the CPU equivalence tests use, ``1e-4``, widened by the few ulps each of hundreds of steps may
add).

The device is ``REGLAB_TEST_DEVICE`` (default ``cuda``); the module skips when that device is
not available. ``REGLAB_TEST_DEVICE=cpu`` runs the same checks on the CPU, which is how they are
kept working on machines without a GPU. ``benchmarks/device_check.sh`` runs them with the GPU
benchmark.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import numpy as np
import pytest
import torch

import reglab
from engine.conftest import chunk_budget, data_for, member
from engine.test_conv import _member as conv_member
from engine.test_conv import mnist
from engine.test_independence import _assert_identical, _digits_members
from engine.test_rnn import GRU, LSTM, waves
from engine.test_rnn import _member as rnn_member
from reglab.engine import MemberResult, MemberSpec, initial_weights, stream_seeds, train_members
from reglab.engine.export import single_model

DEVICE = os.environ.get("REGLAB_TEST_DEVICE", "cuda")
RTOL, ATOL = 1e-3, 1e-4


def _available(device: str) -> bool:
    if device == "cpu":
        return True
    return device.startswith("cuda") and torch.cuda.is_available()


pytestmark = pytest.mark.skipif(not _available(DEVICE), reason=f"needs the device {DEVICE!r}")

__all__ = ["mnist", "waves"]  # fixtures used below


def _close(a: MemberResult, b: MemberResult, what: str) -> None:
    assert (a.status, a.epochs_run) == (b.status, b.epochs_run), what
    for name, value in a.weights.items():
        np.testing.assert_allclose(value, b.weights[name], rtol=RTOL, atol=ATOL, err_msg=what)
    np.testing.assert_allclose(a.test_pred, b.test_pred, rtol=RTOL, atol=ATOL, err_msg=what)


def _independent(specs: list[MemberSpec], data: Any, *, chunk_members: int = 2) -> list[Any]:
    """Train ``specs`` on the device together, alone and chunked; every result the same bits."""
    together = train_members(specs, data, device=DEVICE)
    assert all(r.ok for r in together), [r.error for r in together]
    for spec, ref in zip(specs, together, strict=True):
        (alone,) = train_members([spec], data, device=DEVICE)
        _assert_identical(ref, alone, f"{spec.strategy.name}: alone on {DEVICE}")
    budget = chunk_budget(list(specs), data, chunk_members)
    chunked = train_members(specs, data, device=DEVICE, memory_budget_mb=budget)
    for spec, ref, res in zip(specs, together, chunked, strict=True):
        _assert_identical(ref, res, f"{spec.strategy.name}: chunked on {DEVICE}")
    return together


def test_mlp_members_are_bit_identical_alone_chunked_and_agree_with_the_cpu() -> None:
    specs, data = _digits_members()
    specs = [dataclasses.replace(s, train=dataclasses.replace(s.train, epochs=15)) for s in specs]
    on_device = _independent(specs, data, chunk_members=3)
    on_cpu = train_members(specs, data, device="cpu")
    for spec, a, b in zip(specs, on_device, on_cpu, strict=True):
        if spec.train.patience is None or a.epochs_run == b.epochs_run:
            _close(a, b, f"{spec.strategy.name}: {DEVICE} against cpu")


def test_cnn_members_are_bit_identical_alone_chunked_and_agree_with_the_cpu(mnist: Any) -> None:
    names = ["none", "dropout=0.2+l2=1e-3", "maxnorm=1+spatial-dropout=0.2", "batchnorm"]
    specs = [conv_member(s, seed, epochs=3) for seed, s in enumerate(names, start=11)]
    on_device = _independent(specs, mnist)
    on_cpu = train_members(specs[:1], mnist, device="cpu")
    _close(on_device[0], on_cpu[0], f"cnn none: {DEVICE} against cpu")


def test_recurrent_members_are_bit_identical_alone_chunked_and_agree_with_the_cpu(
    waves: Any,
) -> None:
    specs = [
        rnn_member(LSTM, "none", 1),
        rnn_member(LSTM, "dropout=0.2+l2=1e-3", 2),
        rnn_member(GRU, "none", 3),
        rnn_member(GRU, "recurrent-dropout=0.2", 4),
    ]
    on_device = _independent(specs, waves)
    on_cpu = train_members([specs[0], specs[2]], waves, device="cpu")
    _close(on_device[0], on_cpu[0], f"lstm: {DEVICE} against cpu")
    _close(on_device[2], on_cpu[1], f"gru: {DEVICE} against cpu")


@pytest.mark.parametrize(
    "options",
    [{}, {"l1": 1e-3, "l2": 1e-3}, {"max_norm": 0.5}, {"train": {"optimizer": "adamw"}}],
    ids=["plain", "l1-l2", "max-norm", "adamw"],
)
def test_one_member_stack_equals_fit_on_the_device(options: dict[str, Any]) -> None:
    spec = member(n=90, seed=7, **options)
    data = data_for("multiclass", n=90)
    x, y = data[0]
    (result,) = train_members([spec], data, device=DEVICE)
    assert result.ok, result.error
    model = single_model(spec.arch, spec.strategy)
    model.load_state_dict({k: torch.as_tensor(v) for k, v in initial_weights(spec).items()})
    reglab.fit(
        model,
        x[spec.train_idx],
        y[spec.train_idx],
        task="multiclass",
        optimizer=spec.train.optimizer,
        lr=spec.lr,
        weight_decay=spec.strategy.weight_decay,
        epochs=spec.train.epochs,
        batch_size=spec.train.batch_size,
        validation_data=(x[spec.val_idx], y[spec.val_idx]),
        device=DEVICE,
        seed=stream_seeds(spec.seed)["order"],
    )
    for key, value in model.state_dict().items():
        np.testing.assert_allclose(
            result.weights[key], value.detach().cpu().numpy(), rtol=RTOL, atol=ATOL, err_msg=key
        )
