"""Parametrization techniques in a stack: their extra blocks and what decides who shares a stack.

A parametrization technique (``acts_on = "parametrization"``, e.g. ``sparse-vd``) learns extra
tensors beside every Dense kernel (:meth:`~reglab.techniques.Technique.extra_params`). They
live in the stack's flat buffer as blocks after the family's own, one per kernel, named
``<layer>.<name>`` (``dense0.log_sigma2``: the single-model layer's ``state_dict`` key) and of
kind ``<name>``, so the optimizer, early-stopping snapshots, member selection and the export
reach them like any other block. They are initialized to the technique's constant; nothing more
is drawn, so a member's kernels start as they do without the technique.

Members train in one stack only when their extra blocks agree (:func:`signature`, part of
:attr:`~reglab.engine.spec.MemberSpec.stack_key`): a member's layout depends on its own
strategy only, never on its neighbours'.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from reglab.engine.layout import StackLayout
from reglab.techniques import Technique, get

__all__ = ["parametrizations", "parametrized", "signature"]


def parametrizations(strategy: Any) -> list[Technique]:
    """The strategy's parametrization techniques (built and validated), in canonical order."""
    found = []
    for config in strategy.techniques:
        cls = get(config.key)
        if cls.acts_on == "parametrization":
            technique = cls.from_config(config.values)
            if not technique.off:
                found.append(technique)
    return sorted(found, key=lambda t: (t.order, t.key))


def _specs(
    layout: StackLayout, techniques: Sequence[Technique]
) -> tuple[list[tuple[str, str, int, tuple[int, ...]]], dict[str, float]]:
    specs: list[tuple[str, str, int, tuple[int, ...]]] = []
    constants: dict[str, float] = {}
    for technique in techniques:
        for b in layout.of_kind("kernel"):
            prefix = b.name.rpartition(".")[0]
            kernel = (int(b.shape[0]), int(b.shape[1]))
            for name, (shape, value) in technique.extra_params(technique.values, kernel).items():
                specs.append((f"{prefix}.{name}", name, b.layer, tuple(shape)))
                constants[f"{prefix}.{name}"] = float(value)
    return specs, constants


def parametrized(layout: StackLayout, strategy: Any) -> StackLayout:
    """``layout`` plus the extra blocks of the strategy's parametrizations (``layout`` itself
    when it has none), initialized to this strategy's constants."""
    techniques = parametrizations(strategy)
    if not techniques:
        return layout
    return layout.extended(*_specs(layout, techniques))


def signature(strategy: Any, arch: Any) -> tuple[Any, ...]:
    """What the stack's layout takes from the strategy: each parametrization's key and the
    shapes of its extra tensors for ``arch``'s layers (empty without parametrizations)."""
    techniques = parametrizations(strategy)
    if not techniques:
        return ()
    sizes = arch.layer_sizes
    out = []
    for t in techniques:
        shapes = [
            tuple((n, tuple(s)) for n, (s, _) in t.extra_params(t.values, (o, i)).items())
            for i, o in itertools.pairwise(sizes)
        ]
        out.append((t.key, tuple(shapes)))
    return tuple(out)
