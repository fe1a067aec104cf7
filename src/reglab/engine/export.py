"""From the engine's vocabulary to a user's model: the single ``nn.Module`` of a member.

:func:`single_model` translates an :class:`~reglab.engine.spec.Architecture` and a
:class:`~reglab.engine.spec.Strategy` into the :class:`~reglab.layers.MLP` that trains like
the member alone (``reglab.fit`` on it equals the engine's member; the equivalence tests hold
the two to it). The layers know nothing of the engine; this module is the only translation.
"""

from __future__ import annotations

from typing import Any

import torch

from reglab._validation import message
from reglab.engine.spec import Architecture, Strategy
from reglab.errors import ConfigError
from reglab.layers.mlp import MLP

__all__ = ["member_module", "mlp_arguments", "single_model", "single_model_schedules"]


def member_module(arch: Any, strategy: Strategy) -> torch.nn.Module:
    """The module that predicts what a trained member predicts, for its stored weights.

    The model family's export (:meth:`~reglab.engine.family.ModelFamily.export`), or, for a
    ``snapshot=K`` member, a :class:`~reglab.layers.snapshot.SnapshotEnsemble` of ``K`` such
    modules (the stored weights name the earlier snapshots ``snapshots.{j}.…``).
    """
    from reglab.engine.family import family_of
    from reglab.layers.snapshot import SnapshotEnsemble

    family = family_of(arch)
    module = family.export(arch, strategy)
    cycles = next((c.values["cycles"] for c in strategy.techniques if c.key == "snapshot"), None)
    if cycles is None:
        return module
    earlier = [family.export(arch, strategy) for _ in range(int(cycles) - 1)]
    return SnapshotEnsemble([*earlier, module], arch.task)


def single_model(
    arch: Architecture,
    strategy: Strategy,
    *,
    generator: torch.Generator | None = None,
    n_train: int | None = None,
) -> MLP:
    """The single model equal to an engine member with this architecture and strategy.

    Mapping: ``arch`` gives the sizes, activation, batch norm and block order; the strategy's
    ``dropout`` (per hidden block), ``input_dropout``, ``dropout_kind`` and ``drop_connect``
    (hidden kernels) carry over; ``max_norm > 0`` puts ``MaxNorm(max_norm)`` on every kernel;
    ``l1``/``l2`` > 0 put ``L1L2(l1, l2, mode=l1_mode)`` on the kernels ``strategy.penalized``
    names. ``weight_decay`` and ``lr`` belong to the optimizer, not the model. A
    parametrization technique (``sparse-vd``, ``learned-dropout``) turns every Dense layer into
    its single-model layer (:meth:`~reglab.techniques.Technique.parametrize`), which needs
    ``n_train``, the number of training rows, to train.

    Raises:
        ConfigError: When the strategy asks for batch norm but ``arch.batch_norm`` is False
            (the study builds the architecture with it), or its dropout rates do not match the
            hidden layers.

    >>> net = single_model(Architecture(4, 2, hidden=(8,)), Strategy(l2=1e-3, dropout=0.5))
    >>> [name for name, _ in net.named_children()]
    ['dense0', 'act0', 'dropout0', 'output']
    >>> net.dense0.kernel_regularizer, net.output.kernel_regularizer
    (L1L2(l2=0.001), None)
    """
    from reglab.engine.parametrize import parametrizations

    model = MLP(**mlp_arguments(arch, strategy), generator=generator)
    _per_layer_forms(model, arch, strategy, generator)
    for technique in parametrizations(strategy):
        technique.parametrize(model, n_train)
    return model


def mlp_arguments(arch: Architecture, strategy: Strategy) -> dict[str, Any]:
    """The :class:`~reglab.layers.MLP` constructor's arguments of :func:`single_model` (for a
    model family whose export is an ``MLP`` subclass)."""
    from reglab.regularizers import L1L2, MaxNorm

    if strategy.batch_norm and not arch.batch_norm:
        raise ConfigError(
            message(
                "single_model",
                "arch.batch_norm",
                f"True for strategy {strategy.name!r}, which asks for batch norm",
                arch.batch_norm,
            )
        )
    n_hidden = len(arch.hidden)
    rates = strategy.dropout_rates(n_hidden)
    kernel_regularizer: Any = None
    regularize_output = False
    per_layer = isinstance(strategy.l1, tuple) or isinstance(strategy.l2, tuple)
    if per_layer:  # one L1L2 per penalized kernel, at that kernel's strengths
        pairs = zip(
            strategy.kernel_values("l1", n_hidden + 1),
            strategy.kernel_values("l2", n_hidden + 1),
            strict=True,
        )
        kernel_regularizer = [
            L1L2(l1=a, l2=b, mode=strategy.l1_mode) if a > 0 or b > 0 else None for a, b in pairs
        ]
    elif strategy.one("l1") > 0 or strategy.one("l2") > 0:
        reg = L1L2(l1=strategy.one("l1"), l2=strategy.one("l2"), mode=strategy.l1_mode)
        flags = strategy.penalized(n_hidden + 1)
        if all(flags[:-1]):
            kernel_regularizer, regularize_output = reg, flags[-1]
        else:
            kernel_regularizer = [reg if flag else None for flag in flags]
    return dict(
        in_features=arch.in_features,
        out_features=arch.out_features,
        hidden=arch.hidden,
        activation=arch.activation,
        dropout=rates[0] if len(set(rates)) == 1 else rates,
        input_dropout=strategy.input_dropout,
        dropout_kind=strategy.dropout_kind,
        drop_connect=0.0 if isinstance(strategy.drop_connect, tuple) else strategy.drop_connect,
        batch_norm=arch.batch_norm,
        block_order=arch.block_order,
        kernel_regularizer=kernel_regularizer,
        kernel_constraint=(
            None
            if isinstance(strategy.max_norm, tuple) or strategy.max_norm == 0
            else MaxNorm(strategy.max_norm)
        ),
        regularize_output=regularize_output,
    )


def _per_layer_forms(
    model: MLP, arch: Architecture, strategy: Strategy, generator: torch.Generator | None
) -> None:
    """Per-layer max-norm bounds and DropConnect rates, each on its own Dense layer."""
    from reglab.layers import drop_connect
    from reglab.regularizers import MaxNorm

    n_hidden = len(arch.hidden)
    dense = [getattr(model, f"dense{i}") for i in range(n_hidden)] + [model.output]
    if isinstance(strategy.max_norm, tuple):
        for layer, c in zip(dense, strategy.layer_values("max_norm", n_hidden), strict=True):
            if c > 0:
                layer.kernel_constraint = MaxNorm(c)
    if isinstance(strategy.drop_connect, tuple):
        rates = strategy.layer_values("drop_connect", n_hidden)
        for layer, p in zip(dense[:-1], rates, strict=True):
            if p > 0:
                drop_connect(layer, "weight", p, generator=generator)


_SCHEDULED_FORMS = {  # technique key → (what holds it in a single model, attribute)
    "l1": ("regularizer", "l1"),
    "l2": ("regularizer", "l2"),
    "maxnorm": ("constraint", "max_value"),
    "dropout": ("dropout", "p"),
    "gaussian-dropout": ("dropout", "p"),
    "input-dropout": ("input", "p"),
}


def single_model_schedules(model: MLP, strategy: Strategy, epochs: int) -> Any:
    """The ``on_epoch_begin`` of :func:`reglab.fit` that gives :func:`single_model`'s model
    the strategy's scheduled strengths (``None`` without schedules): one
    :class:`~reglab.training.StrengthSchedule` per scheduled term, on the regularizers,
    constraints or dropout layers that hold its strength.

    Raises:
        ConfigError: For a scheduled term without a single-model form here (DropConnect,
            weight decay, registry techniques): schedule those in your own loop.
    """
    from reglab.training.schedule import StrengthSchedule

    if not strategy.schedules:
        return None
    dense: list[Any] = [m for n, m in model.named_children() if n.startswith("dense")]
    dense.append(model.output)
    holders: dict[str, list[Any]] = {
        "regularizer": list({id(r): r for d in dense if (r := d.kernel_regularizer)}.values()),
        "constraint": list({id(c): c for d in dense if (c := d.kernel_constraint)}.values()),
        "dropout": [m for name, m in model.named_children() if name[7:].isdigit()],
        "input": [m for name, m in model.named_children() if name == "dropout_in"],
    }
    schedules = []
    for key, text in strategy.schedules:
        if key not in _SCHEDULED_FORMS:
            raise ConfigError(
                message(
                    "single_model_schedules", "strategy",
                    "schedules of " + ", ".join(_SCHEDULED_FORMS) + " only", f"{key}@{text}",
                )
            )  # fmt: skip
        kind, attribute = _SCHEDULED_FORMS[key]
        targets = [t for t in holders[kind] if getattr(t, attribute, 0)]
        schedules.append(
            StrengthSchedule(text, targets, attribute, epochs=epochs, inverse=kind == "constraint")
        )

    def on_epoch_begin(epoch: int, history: Any) -> None:
        for schedule in schedules:
            schedule(epoch, history)

    return on_epoch_begin
