"""The inner loop of the single-model trainer: optimizer, seeded noise, one epoch, measurements.

One epoch in training mode minimizes ``loss(model(x_batch), y_batch) + regularization_loss(model)``
per mini-batch, then applies decoupled weight decay (when not done by AdamW), the optimizer
step, the proximal L1 step and the constraints, in this order. Measurements run in evaluation
mode without gradients.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn

from reglab._validation import message
from reglab.errors import ConfigError
from reglab.layers.dropconnect import _RATES as DROP_CONNECT_RATES
from reglab.regularizers import (
    apply_constraints,
    iter_regularized,
    penalty_breakdown,
    proximal_step,
    regularization_loss,
)
from reglab.training.metrics import Metric

__all__ = ["build_optimizer", "evaluate", "penalty_shares", "seeded_noise", "train_epoch"]

OPTIMIZERS = ("adam", "adamw", "sgd")
EVAL_CHUNK = 8192

LossFn = Callable[[Tensor, Tensor], Tensor]
OptimizerFactory = Callable[..., torch.optim.Optimizer]


def build_optimizer(
    model: nn.Module,
    optimizer: str | OptimizerFactory,
    lr: float,
    weight_decay: float,
    momentum: float,
) -> tuple[torch.optim.Optimizer, list[nn.Parameter]]:
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ConfigError(message("fit", "model", "a module with trainable parameters", model))
    decayed = [p for p in params if p.dim() >= 2]
    others = [p for p in params if p.dim() < 2]
    if optimizer in ("adam", "adamw") and (weight_decay > 0 or optimizer == "adamw"):
        groups = [
            {"params": decayed, "weight_decay": weight_decay},
            {"params": others, "weight_decay": 0.0},
        ]
        return torch.optim.AdamW([g for g in groups if g["params"]], lr=lr), decayed
    if optimizer == "adam":
        return torch.optim.Adam(params, lr=lr), decayed
    if optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum), decayed
    if isinstance(optimizer, str):  # unreachable: names are checked in _check_options
        raise ConfigError(message("fit", "optimizer", f"one of {OPTIMIZERS}", optimizer))
    groups = [{"params": g} for g in (decayed, others) if g]
    opt = optimizer(groups, lr=lr)
    if not isinstance(opt, torch.optim.Optimizer):
        raise ConfigError(
            message("fit", "optimizer", "a factory returning a torch.optim.Optimizer", opt)
        )
    return opt, decayed


@contextmanager
def seeded_noise(model: nn.Module, seed: int, dev: torch.device) -> Iterator[None]:
    """Give random layers without a generator of their own a seeded one while training.

    Covers modules with a ``generator`` attribute (reglab's dropout family) and parameters
    given DropConnect by :func:`reglab.layers.drop_connect`.
    """
    gen = torch.Generator(device=dev)
    gen.manual_seed(seed)
    patched = [m for m in model.modules() if "generator" in vars(m) and m.generator is None]
    connected: list[tuple[dict[str, Any], str, float]] = []
    for m in model.modules():
        rates = vars(m).get(DROP_CONNECT_RATES, {})
        connected += [(rates, name, p) for name, (p, g) in rates.items() if g is None]
    for m in patched:
        setattr(m, "generator", gen)  # noqa: B010  (nn.Module's typed __setattr__)
    for rates, name, p in connected:
        rates[name] = (p, gen)
    try:
        yield
    finally:
        for m in patched:
            setattr(m, "generator", None)  # noqa: B010
        for rates, name, p in connected:
            rates[name] = (p, None)


def _batches(
    n: int, bs: int, shuffle: bool, gen: torch.Generator, skip_single: bool, device: torch.device
) -> list[Tensor]:
    order = torch.randperm(n, generator=gen) if shuffle else torch.arange(n)
    batches = list(order.to(device).split(bs))
    if skip_single and len(batches) > 1 and len(batches[-1]) == 1:
        batches.pop()
    return batches


def train_epoch(
    model: nn.Module,
    X: Tensor,
    Y: Tensor,
    loss_fn: LossFn,
    opt: torch.optim.Optimizer,
    bs: int,
    shuffle: bool,
    gen: torch.Generator,
    skip_single: bool,
    decayed: list[nn.Parameter] | None,
    weight_decay: float,
) -> float:
    """One pass in training mode; returns the mean objective (data loss + penalty)."""
    model.train()
    total = torch.zeros((), dtype=torch.float64, device=X.device)
    seen = 0
    decay_ids = {id(p) for p in decayed} if decayed else set()
    for idx in _batches(X.shape[0], bs, shuffle, gen, skip_single, X.device):
        opt.zero_grad(set_to_none=True)
        objective = loss_fn(model(X[idx]), Y[idx]) + regularization_loss(model)
        objective.backward()
        if decay_ids:
            with torch.no_grad():
                for group in opt.param_groups:
                    for p in group["params"]:
                        if id(p) in decay_ids:
                            p.mul_(1.0 - group["lr"] * weight_decay)
        opt.step()
        proximal_step(model, opt)
        apply_constraints(model)
        total += objective.detach().double() * len(idx)
        seen += len(idx)
    return float(total) / max(seen, 1)


@torch.no_grad()
def evaluate(
    model: nn.Module, X: Tensor, Y: Tensor, loss_fn: LossFn, metric: Metric | None
) -> tuple[float, float | None]:
    """Data loss (and metric) over a whole data set, in evaluation mode."""
    model.eval()
    output = torch.cat([model(chunk) for chunk in X.split(EVAL_CHUNK)])
    value = float(loss_fn(output, Y))
    return value, (metric(output, Y) if metric is not None else None)


@torch.no_grad()
def penalty_shares(model: nn.Module) -> dict[str, float]:
    """Each penalty's value, proximal L1 parts included (they are part of the objective)."""
    shares = {name: float(v) for name, v in penalty_breakdown(model).items()}
    for name, param, reg in iter_regularized(model):
        if getattr(reg, "proximal", False):
            shares[name] = shares.get(name, 0.0) + float(reg.l1) * float(param.abs().sum())
    return shares
