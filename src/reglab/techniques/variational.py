"""Variational dropout as registry techniques: ``sparse-vd`` and ``learned-dropout``.

Both are parametrizations (``acts_on = "parametrization"``): beside every Dense kernel a member
learns one more tensor, which the engine keeps in the stack's flat buffer (optimized, restored
by early stopping and exported with the kernel), and every training step samples the layer's
pre-activations by the local reparameterization trick from the member's own noise stream. Each
member's loss is its batch-mean data loss plus ``KL / N`` (``N`` its training rows). The maths
are :mod:`reglab.layers.variational`; the single-model forms are
:class:`~reglab.layers.SparseVDLinear` and :class:`~reglab.layers.LearnedDropoutLinear`.

* ``sparse-vd`` (``sparse-vd=THRESHOLD``, default 3, or ``sparse-vd=THRESHOLD:WARMUP``):
  sparse variational dropout (Molchanov, Ashukha & Vetrov, 2017) with a learned ``log σ²`` per
  weight (initially −10). At evaluation, and in the exported weights, weights with
  ``log α > THRESHOLD`` are exact zeros, so the stored per-layer sparsity is the pruned share.
  ``WARMUP`` epochs of KL warm-up (:func:`~reglab.layers.variational.kl_warmup`, default 10;
  ``:0`` for none) let the network fit the data before the KL prunes it: with the full KL from
  the first step, the KL of a freshly initialized network outweighs its data loss many times
  and prunes it whole. With early stopping, a patience beyond the warm-up keeps the restored
  epoch from predating the pruning.
* ``learned-dropout`` (``learned-dropout=ALPHA`` or ``=ALPHA:1``, default ``0.25:0``): Gaussian
  dropout ``N(1, α)`` on every Dense layer's inputs with ``α`` learned per input unit, or per
  layer with ``:1`` (Kingma, Salimans & Welling, 2015), starting from ``α = ALPHA``.

Both act on multilayer perceptrons (every Dense layer, the output layer included).

>>> SparseVD(threshold=3.0).extra_params({"threshold": 3.0}, (4, 5))
{'log_sigma2': ((4, 5), -10.0)}
>>> LearnedDropout(alpha=0.25, per_layer=1.0).extra_params({"alpha": 0.25, "per_layer": 1.0},
...                                                        (4, 5))["log_alpha"][0]
(1, 1)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

from torch import Tensor, nn

from reglab._validation import Problems, message
from reglab.layers import variational as vf
from reglab.layers.variational_dense import SPARSE_VD_INIT, learned_dropout, sparse_vd
from reglab.techniques.base import Param, Technique
from reglab.techniques.registry import register

__all__ = ["LearnedDropout", "SparseVD"]


class SparseVD(Technique):
    """``sparse-vd`` / ``sparse-vd=THRESHOLD``: sparse variational dropout on every kernel."""

    key = "sparse-vd"
    # The threshold is where weights are cut, not a strength: tuning keeps the paper's 3.
    params = (
        Param("threshold", 3.0, 3.0, "linear", maximum=vf.LOG_ALPHA_CLIP),
        Param("warmup", 0.0, 20.0, "linear", maximum=10_000.0),
    )
    acts_on = "parametrization"
    label = "sparse variational dropout"
    order = 57
    families = ("mlp",)
    defaults: ClassVar[Mapping[str, float]] = MappingProxyType({"threshold": 3.0, "warmup": 10.0})

    def __init__(self, threshold: float = 3.0, warmup: float = 10.0) -> None:
        # 0 is the "off" value (members of a stack without the technique), not a threshold.
        off = threshold == 0 and warmup == 0
        if isinstance(threshold, int | float) and not (0 < threshold <= vf.LOG_ALPHA_CLIP or off):
            raise_problem(
                self, "threshold", "a log α in (0, 8] (the paper uses 3), or 0 for off", threshold
            )
        if isinstance(warmup, int | float) and not 0 <= warmup <= 10_000:
            raise_problem(self, "warmup", "a number of epochs in [0, 10000]", warmup)
        super().__init__(threshold=threshold, warmup=warmup)

    @classmethod
    def extra_params(
        cls, values: Mapping[str, float], kernel: tuple[int, int]
    ) -> dict[str, tuple[tuple[int, ...], float]]:
        return {"log_sigma2": (tuple(kernel), SPARSE_VD_INIT)}

    @classmethod
    def dense(
        cls,
        h: Tensor,
        kernel: Tensor,
        bias: Tensor,
        extra: Mapping[str, Tensor],
        noise: Tensor,
        values: Mapping[str, Tensor],
    ) -> Tensor:
        return vf.sparse_vd_dense(h, kernel, bias, extra["log_sigma2"], noise)

    @classmethod
    def kl(
        cls, kernel: Tensor, extra: Mapping[str, Tensor], values: Mapping[str, Tensor]
    ) -> Tensor:
        return vf.sparse_vd_kl(kernel, extra["log_sigma2"])

    @classmethod
    def eval_kernel(
        cls, kernel: Tensor, extra: Mapping[str, Tensor], values: Mapping[str, Tensor]
    ) -> Tensor:
        return vf.sparse_vd_kernel(kernel, extra["log_sigma2"], values["threshold"])

    @classmethod
    def weight_copies(cls, values: Mapping[str, float]) -> int:
        """Kernel-sized tensors of each step's KL term and of the variance product (``θ²``,
        ``σ²``, ``log α`` and their gradients) that autograd keeps for the backward pass,
        and the pruned kernel of evaluation: 6 buffers the size of the member's weights with
        their ``log σ²`` (measured: ``benchmarks/engine_memory.py sparse-vd``)."""
        return 6

    def parametrize(
        self, model: nn.Module, n_train: int | None, generator: Any = None
    ) -> nn.Module:
        v = self.values
        return sparse_vd(
            model, n_train, threshold=v["threshold"], warmup=v["warmup"], generator=generator
        )


class LearnedDropout(Technique):
    """``learned-dropout=ALPHA[:PER_LAYER]``: Gaussian dropout with a learned ``α``."""

    key = "learned-dropout"
    params = (
        Param("alpha", 0.05, 1.0, "log", maximum=1.0),
        # 0: one α per input unit; 1: one per layer (tuning searches per-unit α only).
        Param("per_layer", 0.0, 0.0, "linear", maximum=1.0),
    )
    acts_on = "parametrization"
    label = "learned Gaussian dropout"
    order = 35
    families = ("mlp",)
    defaults: ClassVar[Mapping[str, float]] = MappingProxyType({"alpha": 0.25, "per_layer": 0.0})

    def __init__(self, alpha: float = 0.25, per_layer: float = 0.0) -> None:
        if isinstance(alpha, int | float) and not 0 <= alpha <= 1:  # 0: off
            raise_problem(self, "alpha", "an initial α in (0, 1], or 0 for off", alpha)
        if isinstance(per_layer, int | float) and per_layer not in (0, 1):
            raise_problem(self, "per_layer", "0 (an α per unit) or 1 (an α per layer)", per_layer)
        super().__init__(alpha=alpha, per_layer=per_layer)

    @classmethod
    def extra_params(
        cls, values: Mapping[str, float], kernel: tuple[int, int]
    ) -> dict[str, tuple[tuple[int, ...], float]]:
        shape = (1, 1) if values["per_layer"] else (1, kernel[1])
        return {"log_alpha": (shape, math.log(max(values["alpha"], 1e-8)))}

    @classmethod
    def dense(
        cls,
        h: Tensor,
        kernel: Tensor,
        bias: Tensor,
        extra: Mapping[str, Tensor],
        noise: Tensor,
        values: Mapping[str, Tensor],
    ) -> Tensor:
        return vf.learned_dropout_dense(h, kernel, bias, extra["log_alpha"], noise)

    @classmethod
    def kl(
        cls, kernel: Tensor, extra: Mapping[str, Tensor], values: Mapping[str, Tensor]
    ) -> Tensor:
        return vf.learned_dropout_kl(extra["log_alpha"])

    def parametrize(
        self, model: nn.Module, n_train: int | None, generator: Any = None
    ) -> nn.Module:
        return learned_dropout(
            model,
            n_train,
            alpha=self.values["alpha"],
            per_layer=bool(self.values["per_layer"]),
            generator=generator,
        )


def raise_problem(technique: Technique, param: str, expected: str, got: Any) -> None:
    """Raise the one-line error of an invalid parameter value."""
    p = Problems()
    p.add(message(f"{type(technique).__name__} ({technique.key})", param, expected, got))
    p.raise_if_any()


register(SparseVD)
register(LearnedDropout)
