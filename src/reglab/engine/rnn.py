"""The recurrent model family: stacked LSTM or GRU members for sequences, trained as stacks.

A :class:`RecurrentArchitecture` is an :class:`~reglab.engine.spec.Architecture` whose rows are
sequences: ``steps·features`` values, time-major (value ``t·F + f`` is feature ``f`` at step
``t``, numpy's reshape of ``[n, T, F]``, as :mod:`reglab.data.sequences` lays them out). Its
``units`` are the recurrent layers (``(32, 32)``: two stacked layers of 32 units), of one
``cell``, ``"lstm"`` or ``"gru"``; the output layer reads the last layer's state after the last
step. One architecture serves sequence classification and forecasting (a regression on windows):
the ``task`` decides the loss, as for every family.

The family (:data:`RNN_FAMILY`, ``"rnn"``) gives the engine

* the layout (:class:`RecurrentLayout`): the output layer's kernel and bias (the dense blocks:
  ``output.weight`` ``[M, out, H]``), then per layer ``rnn{l}.weight_ih_l0`` ``[M, G·H, in]``
  (kind ``"rnn_ih"``), ``rnn{l}.weight_hh_l0`` ``[M, G·H, H]`` (``"rnn_hh"``) and the biases
  ``rnn{l}.bias_ih_l0``, ``rnn{l}.bias_hh_l0`` ``[M, G·H, 1]`` — torch's names and layout, so a
  member's weights load into ``torch.nn.LSTM``/``GRU``. Every block starts as torch does,
  ``U(±1/√H)`` for the recurrent layers (in the order of torch's parameters) and
  ``U(±1/√fan_in)`` for the output layer, from the member's own generator (the output layer
  first, then the recurrent layers in order);
* the stack (:class:`~reglab.engine.rnn_stack.RecurrentStack`, generic: autograd differentiates
  the forward pass);
* its noise places, drawn from the member's own noise stream each epoch (only where the
  member's rate is above 0): input dropout ``[T·F, B]`` (a fresh mask for every value),
  output dropout ``[H_l, B]`` after each layer (``dropout=p``, or one rate per layer
  ``dropout=p1/p2``: one mask per sequence, on everything the next layer or the output layer
  reads), recurrent dropout ``[H_l, B]`` (``recurrent-dropout=p``) and weight drop
  ``[G·H_l, H_l]`` (``weight-drop=p``), one mask per mini-batch;
* the export (:class:`~reglab.layers.recurrent.RecurrentNet`) and the memory estimate.

Regularization: L1/L2 penalize the kernels of the layers :meth:`Strategy.penalized
<reglab.engine.spec.Strategy.penalized>` names, the recurrent layers first (both ``W_ih`` and
``W_hh``), the output layer last: ``"hidden"`` (the default) penalizes every recurrent layer,
``"all"`` the output kernel too, ``"first"`` the first recurrent layer. Decoupled weight decay
reaches every kernel; biases are never penalized. Max-norm bounds each row of every kernel
(one gate unit's incoming weights, Keras's ``kernel_constraint`` and ``recurrent_constraint``
with ``MaxNorm``) and each output unit's. ``grad-clip=c`` clips each member's gradient norm.
Refused on a recurrent member, in one line each: DropConnect (``weight-drop`` is the recurrent
form), Gaussian dropout, proximal L1, batch norm and registry projections;
registry techniques on hidden activations act on the last layer's final state.

>>> arch = RecurrentArchitecture(20, 1, units=(16,), steps=20, features=1, task="regression")
>>> arch.layer_sizes, arch.gates
((16, 1), 4)
>>> from reglab.engine.family import family_of
>>> family_of(arch).name
'rnn'
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from torch import nn

from reglab._validation import Problems, check_choice, check_int, message
from reglab.engine.family import ModelFamily, register_family
from reglab.engine.layout import StackLayout
from reglab.engine.spec import Architecture, MemberSpec, Strategy
from reglab.engine.stack import EVAL_ROWS, Stack
from reglab.engine.streams import NoisePlace, batch_pattern
from reglab.errors import ConfigError
from reglab.layers.recurrent import CELLS, GATES
from reglab.techniques import get
from reglab.techniques.recurrent import GradClip, RecurrentDropout, WeightDrop

__all__ = [
    "DEFAULT_STRATEGIES",
    "MODEL_OPTIONS",
    "RNN_FAMILY",
    "RecurrentArchitecture",
    "RecurrentFamily",
    "RecurrentLayout",
    "RecurrentPlace",
    "parse_model",
    "recurrent_architecture",
    "technique_value",
]


@dataclass(frozen=True)
class RecurrentArchitecture(Architecture):
    """A stacked LSTM/GRU shape on sequences of ``steps × features`` (see the module
    docstring).

    ``in_features`` must be ``steps·features``; ``hidden`` must be empty (the output layer
    reads the last state) and ``batch_norm`` False; ``activation`` is not used (the cells'
    own σ and tanh).
    """

    hidden: tuple[int, ...] = ()
    cell: str = "lstm"
    units: tuple[int, ...] = (32,)
    steps: int = 1
    features: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        who = "RecurrentArchitecture"
        p = Problems()
        p.check(check_choice, who, "cell", self.cell, CELLS)
        for name in ("steps", "features"):
            p.check(check_int, who, name, getattr(self, name), minimum=1)
        units = tuple(self.units) if isinstance(self.units, Sequence) else (self.units,)
        object.__setattr__(self, "units", units)
        if not units:
            p.add(message(who, "units", "at least one recurrent layer", list(units)))
        for u in units:
            p.check(check_int, who, "units", u, minimum=1)
        if self.hidden:
            p.add(message(who, "hidden", "() (the output layer reads the last state)", self.hidden))
        if self.batch_norm:
            p.add(message(who, "batch_norm", "False (no batch norm)", True))
        p.raise_if_any()
        if self.in_features != self.steps * self.features:
            p.add(
                message(
                    who,
                    "in_features",
                    f"steps·features = {self.steps * self.features}",
                    self.in_features,
                )
            )
        p.raise_if_any()

    @property
    def gates(self) -> int:
        """Gates per cell: 4 (LSTM) or 3 (GRU)."""
        return GATES[self.cell]

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """The output layer's ``(units[-1], out)``."""
        return (self.units[-1], self.out_features)

    @property
    def fan_ins(self) -> tuple[int, ...]:
        """Inputs of each recurrent layer: ``features``, then the layer below's units."""
        return (self.features, *self.units[:-1])


def recurrent_penalized(strategy: Strategy, arch: RecurrentArchitecture) -> tuple[bool, ...]:
    """Which layers carry the l1/l2 penalty: each recurrent layer, then the output layer."""
    return strategy.penalized(len(arch.units) + 1)


class RecurrentLayout(StackLayout):
    """The output layer's blocks, then every recurrent layer's kernels and biases."""

    arch: RecurrentArchitecture

    def extra_blocks(self, arch: Architecture) -> list[tuple[str, str, int, tuple[int, ...]]]:
        arch = cast(RecurrentArchitecture, arch)
        blocks: list[tuple[str, str, int, tuple[int, ...]]] = []
        for i, (fan_in, u) in enumerate(zip(arch.fan_ins, arch.units, strict=True)):
            rows = arch.gates * u
            blocks.append((f"rnn{i}.weight_ih_l0", "rnn_ih", i, (rows, fan_in)))
            blocks.append((f"rnn{i}.weight_hh_l0", "rnn_hh", i, (rows, u)))
            blocks.append((f"rnn{i}.bias_ih_l0", "rnn_bias_ih", i, (rows, 1)))
            blocks.append((f"rnn{i}.bias_hh_l0", "rnn_bias_hh", i, (rows, 1)))
        return blocks

    def initial_extra(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """torch's ``nn.LSTM``/``nn.GRU`` initialization: ``U(±1/√H)`` for every parameter of
        a layer, drawn in torch's order (``weight_ih``, ``weight_hh``, ``bias_ih``,
        ``bias_hh``)."""
        values: dict[str, np.ndarray] = {}
        for block in self.blocks:
            if block.kind.startswith("rnn_"):
                units = self.arch.units[block.layer]
                bound = 1.0 / math.sqrt(units)
                values[block.name] = rng.uniform(-bound, bound, size=block.shape)
        return values

    def unstack(self, flat: Any, m: int, index: int) -> dict[str, np.ndarray]:
        """As :meth:`StackLayout.unstack`, with the recurrent biases as vectors (torch's)."""
        state = super().unstack(flat, m, index)
        for b in self.blocks:
            if b.kind in ("rnn_bias_ih", "rnn_bias_hh"):
                state[b.name] = state[b.name].reshape(-1)
        return state


def technique_value(strategy: Strategy, key: str, name: str) -> float:
    """The value of a registry technique's parameter in ``strategy`` (its off value without
    it)."""
    for config in strategy.techniques:
        if config.key == key:
            return float(config.values[name])
    return float(next(q.off for q in get(key).params if q.name == name))


@dataclass(frozen=True)
class RecurrentPlace(NoisePlace):
    """A recurrent member's noise place: ``"output"`` (dropout on layer ``layer``'s outputs,
    ``[H, B]``), ``"recurrent"`` (recurrent dropout, ``[H, B]``) or ``"weightdrop"``
    (``W_hh`` mask, ``[G·H, H]``)."""

    def rate(self, member: MemberSpec) -> float:
        s = member.strategy
        if self.kind == "output":
            arch = cast(RecurrentArchitecture, member.arch)
            return float(s.dropout_rates(len(arch.units))[self.layer])
        if self.kind == "recurrent":
            return technique_value(s, RecurrentDropout.key, "rate")
        return technique_value(s, WeightDrop.key, "rate")

    def gaussian(self, member: MemberSpec) -> bool:
        return False


def strategy_problems(s: Strategy) -> list[str]:
    """The terms of ``s`` a recurrent member cannot train, one phrase each."""
    out = [f"`{term}` ({why})" for field, term, why in _REFUSED if getattr(s, field) > 0]
    if s.dropout_kind == "gaussian":
        out.append("`gaussian-dropout` (output dropout is standard dropout)")
    if s.one("l1") > 0 and s.l1_mode == "proximal":
        out.append("`proximal` (L1 acts as a penalty on recurrent kernels)")
    if s.batch_norm:
        out.append("`batchnorm` (no batch norm in recurrent layers)")
    for config in s.techniques:
        if get(config.key).acts_on == "projection":
            out.append(f"`{config.key}` (a projection of dense kernels)")
    return out


_REFUSED = (
    ("drop_connect", "dropconnect", "weight-drop=p is DropConnect on the recurrent kernels"),
)


class RecurrentFamily(ModelFamily):
    """The recurrent family (:class:`RecurrentArchitecture`)."""

    name = "rnn"
    architecture = RecurrentArchitecture

    def layout(self, arch: Any) -> StackLayout:
        return RecurrentLayout(arch)

    def stack_class(self, generic: bool) -> type[Stack]:
        from reglab.engine.rnn_stack import RecurrentStack

        return RecurrentStack

    def problems(self, member: MemberSpec) -> list[str]:
        """What a recurrent member cannot train: one phrase per refused term."""
        return strategy_problems(member.strategy)

    def noise_places(self, members: Sequence[MemberSpec]) -> list[NoisePlace]:
        arch = cast(RecurrentArchitecture, members[0].arch)
        batch = members[0].batch_size
        candidates: list[NoisePlace] = [NoisePlace("input", 0, (arch.in_features, batch))]
        for i, u in enumerate(arch.units):
            candidates += [
                RecurrentPlace("output", i, (u, batch)),
                RecurrentPlace("recurrent", i, (u, batch)),
                RecurrentPlace("weightdrop", i, (arch.gates * u, u)),
            ]
        return [p for p in candidates if any(p.rate(m) > 0 for m in members)]

    def export(self, arch: Any, strategy: Strategy) -> nn.Module:
        """The :class:`~reglab.layers.recurrent.RecurrentNet` equal to one member
        (``state_dict`` names are the layout's): L1/L2 on the kernels of the layers
        :func:`recurrent_penalized` flags, max-norm on every kernel, output dropout, input
        dropout, recurrent dropout and weight drop at the member's rates. Decoupled weight
        decay, the learning rate and gradient clipping belong to the training loop."""
        from reglab.layers.recurrent import RecurrentNet
        from reglab.regularizers import L1L2

        on = strategy.one("l1") > 0 or strategy.one("l2") > 0
        reg = L1L2(l1=strategy.one("l1"), l2=strategy.one("l2"))
        return RecurrentNet(
            arch.cell,
            arch.steps,
            arch.features,
            arch.out_features,
            arch.units,
            dropout=strategy.dropout_rates(len(arch.units)),
            input_dropout=strategy.input_dropout,
            recurrent_dropout=technique_value(strategy, RecurrentDropout.key, "rate"),
            weight_drop=technique_value(strategy, WeightDrop.key, "rate"),
            kernel_regularizer=[
                reg if on and f else None for f in recurrent_penalized(strategy, arch)
            ],
            kernel_constraint=_max_norm(strategy),
        )

    def weight_summary(self, arch: Any, weights: dict[str, np.ndarray]) -> tuple[Any, ...]:
        """Sparsity and histograms of every kernel (``rnn0.weight_ih``, ``rnn0.weight_hh``,
        …, ``output``); the feature norms are ``W_ih``'s column norms of the first layer, one
        per input feature (shared by every time step)."""
        from reglab.engine.result import kernel_summary

        kernels = []
        for i, (fan_in, units) in enumerate(zip(arch.fan_ins, arch.units, strict=True)):
            kernels.append((f"rnn{i}.weight_ih", weights[f"rnn{i}.weight_ih_l0"], fan_in))
            kernels.append((f"rnn{i}.weight_hh", weights[f"rnn{i}.weight_hh_l0"], units))
        kernels.append(("output", weights["output.weight"], arch.units[-1]))
        return kernel_summary(kernels, weights["rnn0.weight_ih_l0"])

    def member_bytes(self, member: MemberSpec) -> int:
        """The dense estimate over this layout, plus the recurrence: per row of a training
        step, autograd keeps ``G + 4`` values per unit and step (gates, states, masks) and
        the inputs' projection ``G·H·T``; evaluation keeps ``2·G·H·T`` per row."""
        from reglab.engine.plan import dense_member_bytes

        arch = cast(RecurrentArchitecture, member.arch)
        base = dense_member_bytes(member, self.layout(arch))
        per_row = sum((2 * arch.gates + 4) * u for u in arch.units) * arch.steps
        step = member.batch_size * per_row * 4
        evaluation = EVAL_ROWS * per_row * 4
        noise = 0
        if technique_value(member.strategy, WeightDrop.key, "rate") > 0:
            noise = batch_pattern(member)[0] * sum(arch.gates * u * u for u in arch.units) * 8
        return int(base + step + evaluation + noise)


def grad_clip_norm(strategy: Strategy) -> float:
    """The member's ``grad-clip`` norm (0: no clipping)."""
    return technique_value(strategy, GradClip.key, "norm")


DEFAULT_STRATEGIES = (
    "none", "l1", "l2", "dropout", "maxnorm", "recurrent-dropout=0.25", "weight-drop=0.3",
    "dropout+l2", "dropout+maxnorm", "recurrent-dropout=0.25+dropout",
)  # fmt: skip
"""What a study of recurrent members runs without ``strategies``: the default presets that
apply to recurrent layers (batch norm does not), the recurrent techniques, and combinations
whose parts are all present."""

MODEL_OPTIONS = {"cell": CELLS}
"""The options of ``--model rnn?cell=gru``."""


def parse_model(text: str, who: str = "Study") -> tuple[str, dict[str, str]]:
    """``"rnn?cell=gru"`` → ``("rnn", {"cell": "gru"})``; other models take no options.

    >>> parse_model("rnn?cell=gru"), parse_model("mlp")
    (('rnn', {'cell': 'gru'}), ('mlp', {}))
    """
    from reglab._validation import suggest

    if not isinstance(text, str):
        return text, {}
    name, _, query = text.partition("?")
    options: dict[str, str] = {}
    for part in filter(None, query.split("&")):
        key, eq, value = part.partition("=")
        if name != "rnn":
            raise ConfigError(f"{who}: `model` options (after ?) are for 'rnn' only; got {text!r}.")
        if key not in MODEL_OPTIONS or not eq:
            raise ConfigError(
                message(who, "model", "rnn?cell=lstm or rnn?cell=gru", text)
                + suggest(key, MODEL_OPTIONS)
            )
        if value not in MODEL_OPTIONS[key]:
            raise ConfigError(
                message(who, f"model option {key}", " or ".join(MODEL_OPTIONS[key]), value)
            )
        options[key] = value
    return name, options


def recurrent_architecture(
    dataset: Any, common: dict[str, Any], model: str, strategy: Strategy
) -> RecurrentArchitecture:
    """A study's recurrent member on sequence data: ``common``'s ``hidden`` sizes are the
    recurrent layers' units, the cell comes from ``model`` (``rnn?cell=gru``). A strategy
    with terms a recurrent member cannot train is refused, naming them."""
    if dataset.kind != "sequences" or len(dataset.shape) != 2:
        raise ConfigError(message("Study", "model", "'mlp' for data that are not sequences", model))
    refused = strategy_problems(strategy)
    if refused:
        raise ConfigError(
            f"Study: strategy {strategy.name!r} must be free of {', '.join(refused)} with "
            f"model {model!r}; leave these terms out for recurrent networks."
        )
    steps, features = dataset.shape
    options = parse_model(model)[1]
    fields = {k: v for k, v in common.items() if k not in ("hidden", "batch_norm")}
    return RecurrentArchitecture(
        **fields,
        units=tuple(common["hidden"]),
        cell=options.get("cell", "lstm"),
        steps=steps,
        features=features,
    )


RNN_FAMILY = register_family(RecurrentFamily())
"""The recurrent family: :class:`RecurrentArchitecture` members on
:class:`~reglab.engine.rnn_stack.RecurrentStack`, exported as
:class:`~reglab.layers.recurrent.RecurrentNet`."""


def _max_norm(strategy: Strategy) -> Any:
    from reglab.regularizers import MaxNorm

    c = strategy.one("max_norm")
    return MaxNorm(c) if c > 0 else None
