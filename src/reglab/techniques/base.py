"""What a technique is: one object that declares its grammar, parameters and maths.

A :class:`Technique` subclass is the one home of a regularization technique (DESIGN §6). It
declares:

* its grammar ``key`` (``activity-l2=1e-4``) and :class:`Param` list: each parameter's valid
  values, its search range and scale (``"log"``/``"linear"``) and the value that means "off";
* how it acts on a member-batched model (:data:`ACTS_ON`), as class methods that take each
  member's parameter values as tensors of shape ``[M]`` (0, the "off" value, for members of
  the stack that do not use the technique):

  - ``"penalty"``: :meth:`Technique.penalty` returns each member's penalty ``[M]``, added to
    its batch-mean data loss (gradients by autograd);
  - ``"hidden-noise"`` / ``"input-noise"``: :meth:`Technique.draw` draws one member's noise from
    the member's own generator and :meth:`Technique.perturb` applies it, in training only;
  - ``"projection"``: :meth:`Technique.project` maps each kernel after the optimizer step;
  - ``"batch"``: :meth:`Technique.transform` maps the training batch (inputs and targets,
    :class:`TrainingBatch`) before the forward pass, with draws from :meth:`Technique.sample`
    (mixup, label smoothing, input noise);
  - ``"loss"``: :meth:`Technique.loss` replaces each member's data loss, with the forward
    pass at hand (:class:`LossContext`; adversarial training);
  - ``"modifier"``: parameters another technique reads (:attr:`Technique.reads`), no action
    of its own (``adv-alpha``);
  - ``"epoch"``: the generic backend's weight averaging at the end of each epoch (``swa``);
  - ``"trajectory"``: the generic backend changes the optimizer's path around each step
    (``lookahead``'s slow weights, ``snapshot``'s learning-rate cycles and ensemble;
    :mod:`reglab.engine.trajectory`);
  - ``"parametrization"``: extra learned tensors beside every Dense kernel
    (:meth:`Technique.extra_params`), a training-mode layer that samples with the member's
    noise (:meth:`Technique.dense`), a KL term weighted by the training-set size
    (:meth:`Technique.kl`) and an evaluation kernel (:meth:`Technique.eval_kernel`);
  - ``"weight-noise"``, ``"optimizer"``, ``"layer"``: the built-in techniques' DropConnect,
    decoupled weight decay and batch norm, which the engine implements itself;

* whether a hand-written fused form exists (``fused``; registry techniques have none, so the
  engine trains them on its generic backend);
* its single-model form for one's own PyTorch models, :meth:`Technique.module`, built from the
  same member-batched maths with one member.

Activations are the engine's columns ``[M, units, B]``; kernels are ``[M, out, in]``.

A strategy carries its techniques as :class:`TechniqueConfig` values (key and parameters),
which are JSON-ready and part of a member's content key.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from reglab._validation import Problems, message

__all__ = [
    "ACTS_ON",
    "Batch",
    "LossContext",
    "Param",
    "Technique",
    "TechniqueConfig",
    "TrainingBatch",
]

ACTS_ON = (
    "penalty",
    "hidden-noise",
    "input-noise",
    "weight-noise",
    "projection",
    "parametrization",
    "optimizer",
    "layer",
    "batch",
    "loss",
    "modifier",
    "epoch",
    "trajectory",
)
"""The ways a technique acts on a member-batched model. The generic backend runs a registry
technique's ``penalty``, ``hidden-noise``, ``input-noise``, ``projection``, ``batch``, ``loss``,
``epoch``, ``trajectory`` and ``parametrization`` maths; ``weight-noise``, ``optimizer`` and
``layer`` (noise on weights, a change to the optimizer, a layer in every block) are built-in
techniques' (:mod:`reglab.techniques.builtin`) and run on the engine's own code; a ``modifier``
only holds parameters that another technique reads."""

SCALES = ("log", "linear")


@dataclass(frozen=True)
class Param:
    """One parameter of a technique.

    Attributes:
        name: The parameter's name (a keyword of the technique's constructor).
        low, high: The search range (a tuning search space samples in it).
        scale: ``"log"`` or ``"linear"``: how the search range is sampled.
        off: The value that turns the technique off (members without it use this value).
        minimum, maximum: Valid values (inclusive); ``off`` is always valid.
        integer: Whether only whole numbers are valid (an epoch): searches suggest integers.
        epoch: Whether it is an epoch of training: a search keeps it below the study's
            ``epochs`` (a start after the last epoch would leave the technique inert).
        schedulable: Whether it may follow a schedule when its technique can
            (:meth:`Technique.scheduled_params`); ``None``: when it is neither ``integer``
            nor an ``epoch`` (a count such as PGD's steps sets ``False``).
        inverse: Whether a smaller value regularizes more (a bound): a schedule then scales
            its inverse (for the first parameter, the technique's ``inverse_strength``).
    """

    name: str
    low: float
    high: float
    scale: str = "log"
    off: float = 0.0
    minimum: float = 0.0
    maximum: float = math.inf
    integer: bool = False
    epoch: bool = False
    schedulable: bool | None = None
    inverse: bool = False

    def __post_init__(self) -> None:
        p = Problems()
        if self.scale not in SCALES:
            p.add(message(f"Param {self.name!r}", "scale", "'log' or 'linear'", self.scale))
        if not self.low <= self.high:
            p.add(message(f"Param {self.name!r}", "high", f"at least low ({self.low})", self.high))
        if self.scale == "log" and self.low <= 0:
            p.add(message(f"Param {self.name!r}", "low", "> 0 for a log scale", self.low))
        p.raise_if_any()

    def check(self, who: str, value: Any) -> str | None:
        """The problem with ``value`` as this parameter, or ``None``."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            return message(who, self.name, "a number", value)
        if value == self.off:
            return None
        if not (math.isfinite(value) and self.minimum <= value <= self.maximum):
            if self.maximum == math.inf:
                return message(who, self.name, f"a finite number ≥ {self.minimum:g}", value)
            return message(
                who, self.name, f"a number in [{self.minimum:g}, {self.maximum:g}]", value
            )
        return None


@dataclass(frozen=True)
class TechniqueConfig:
    """A technique as a strategy carries it: its registry key and its parameter values.

    >>> TechniqueConfig("activity-l2", (("strength", 1e-4),)).to_dict()
    {'key': 'activity-l2', 'params': {'strength': 0.0001}}
    """

    key: str
    params: tuple[tuple[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "params": {k: list(v) if isinstance(v, tuple) else v for k, v in self.params},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TechniqueConfig:
        params = data.get("params", {})
        return cls(str(data["key"]), tuple((str(k), _value(v)) for k, v in params.items()))

    @property
    def values(self) -> dict[str, Any]:
        """Parameter values: floats, or one float per hidden block for per-layer rates."""
        return dict(self.params)


def _value(v: Any) -> float | tuple[float, ...]:
    return tuple(float(x) for x in v) if isinstance(v, list | tuple) else float(v)


@dataclass
class Batch:
    """What a penalty sees of one training step of a stack.

    Attributes:
        kernels: Every Dense kernel ``[M, out, in]`` (output layer last), differentiable.
        biases: Every bias ``[M, out, 1]``.
        hidden: Each hidden block's output ``[M, units, B]`` (after its activation, before
            noise and dropout), differentiable.
        row_weight: ``[M, 1, B]``: ``1/count`` on each member's real rows of the batch, 0 on
            padding, so ``(t·row_weight).sum()`` is a member's batch mean of ``t``.
    """

    kernels: Sequence[Tensor]
    biases: Sequence[Tensor]
    hidden: Sequence[Tensor] = field(default_factory=list)
    row_weight: Tensor | None = None


@dataclass(frozen=True)
class TrainingBatch:
    """One training step's batch of a stack, as ``"batch"`` techniques transform it.

    Attributes:
        x: Features ``[M, F, B]`` (columns), standardized as the preprocessing left them.
        target: ``[M, T, B]``: one-hot rows (multiclass), 0/1 (binary) or the raw target
            (regression); soft values are allowed for classification.
        row_weight: ``[M, 1, B]``: ``1/count`` on each member's real rows, 0 on padding.
        numeric: ``[M, F, 1]``: 1 on numeric input columns, 0 on one-hot columns (see
            :attr:`~reglab.engine.spec.MemberSpec.numeric_features`); input perturbations
            multiply by it, so one-hot columns are never perturbed.
        task: ``"multiclass"``, ``"binary"`` or ``"regression"``.
    """

    x: Tensor
    target: Tensor
    row_weight: Tensor
    numeric: Tensor
    task: str

    def with_(self, x: Tensor | None = None, target: Tensor | None = None) -> TrainingBatch:
        """A copy with new inputs and/or targets."""
        return replace(
            self,
            x=self.x if x is None else x,
            target=self.target if target is None else target,
        )


@dataclass(frozen=True)
class LossContext:
    """What a ``"loss"`` technique sees of one training step.

    Attributes:
        batch: The step's (transformed) :class:`TrainingBatch`.
        forward: Features ``[M, F, B]`` → outputs ``[M, out, B]``, differentiable in the
            weights (the step's training-mode forward pass, same noise).
        attack_forward: The same pass with the weights detached: for gradients with respect
            to the inputs only.
        data_loss: ``(outputs, target)`` → each member's batch-mean data loss ``[M]``.
    """

    batch: TrainingBatch
    forward: Callable[[Tensor], Tensor]
    attack_forward: Callable[[Tensor], Tensor]
    data_loss: Callable[[Tensor, Tensor], Tensor]


class Technique:
    """Base class of a registered technique; one instance is one member's configuration.

    Subclasses set the class attributes and override the class methods of their
    :attr:`acts_on` kind. Instances validate their parameters at construction, as in Keras.

    Class attributes:
        key: Grammar key (``act-noise`` reads ``act-noise=0.1``).
        params: The parameters, the first being the strength the grammar sets.
        acts_on: One of :data:`ACTS_ON`.
        fused: Whether the engine's hand-written fused path implements it.
        label: Short human phrase for reports (``"activity L2"``).
        order: Position among a strategy's terms in its canonical name.
        layers: Which kernels a projection maps: ``"all"``, ``"first"``, or ``"skip"`` (the
            pair of a skip path's kernel and the first kernel, through
            :meth:`Technique.project_pair`; ``skip-mlp`` members only).
        sparsifies_inputs: Whether it zeroes whole input features (strength paths then count
            the surviving features).
        families: The model families it acts on (``("cnn",)``); empty: every family. A
            member of another family is refused before training.
        tasks: The tasks it acts on (``("multiclass", "binary")``); empty: every task. A
            member of another task is refused before training.
        batch_norm: Whether it works on members with batch norm (refused before training
            otherwise).
        in_cocktail: Whether ``reglab tune``'s ``cocktail`` space switches it on and off.
        requires: Keys of techniques a strategy must also have (``shake-drop`` needs
            ``residual``); refused otherwise, and a cocktail asks for it only when they are on.
        reads: Keys of ``"modifier"`` techniques whose parameters it also receives in
            ``values`` (at their "off" value when the strategy does not use them).
        defaults: The values a bare grammar key (``sparse-vd``) means; ``None``: the key
            needs a value.
        trains_apart: Whether members using it train in stacks of their own (keyed by these
            techniques' keys), because it adds whole passes to every step of its stack that
            the other members would otherwise pay for (adversarial attacks). Grouping never
            changes a member's result, only what it shares a stack with.
        schedulable: Whether its parameters may follow schedules (``l2=1e-4@cosine``, the
            first; ``group-l1=1:1e-3@within=warmup:5``, another;
            :mod:`reglab.techniques.schedule`); ``None``: when it acts as a penalty, noise,
            a batch transform, a loss or a projection (:meth:`can_schedule`). Which
            parameters: :meth:`scheduled_params`.
        inverse_strength: Whether a smaller first parameter regularizes more (max-norm's
            bound): a schedule then scales its inverse.
        trains_every_epoch: Whether its members train all their epochs (early stopping
            neither stops nor restores them: ``snapshot``).
        attackable: Whether robust accuracy (``robust_eps``) can attack its members: not when
            they predict with more than one set of weights (``snapshot``).
    """

    key: ClassVar[str] = ""
    params: ClassVar[tuple[Param, ...]] = ()
    acts_on: ClassVar[str] = "penalty"
    fused: ClassVar[bool] = False
    label: ClassVar[str] = ""
    order: ClassVar[int] = 85
    layers: ClassVar[str] = "all"
    sparsifies_inputs: ClassVar[bool] = False
    families: ClassVar[tuple[str, ...]] = ()
    tasks: ClassVar[tuple[str, ...]] = ()
    in_cocktail: ClassVar[bool] = True
    batch_norm: ClassVar[bool] = True
    reads: ClassVar[tuple[str, ...]] = ()
    requires: ClassVar[tuple[str, ...]] = ()
    defaults: ClassVar[Mapping[str, float] | None] = None
    trains_apart: ClassVar[bool] = False
    schedulable: ClassVar[bool | None] = None
    inverse_strength: ClassVar[bool] = False

    @classmethod
    def can_schedule(cls) -> bool:
        """Whether the strength (first parameter) may follow a schedule."""
        if cls.schedulable is not None:
            return cls.schedulable
        kinds = ("penalty", "hidden-noise", "input-noise", "batch", "loss", "projection")
        return bool(cls.params) and cls.acts_on in kinds

    @classmethod
    def scheduled_params(cls) -> tuple[str, ...]:
        """The parameters that may follow a schedule: none when :meth:`can_schedule` says
        no; else the first and every other numeric strength (:attr:`Param.schedulable`).

        >>> from reglab.techniques import get
        >>> get("group-l1").scheduled_params(), get("pgd").scheduled_params()
        (('strength', 'within'), ('eps',))
        """
        if not cls.can_schedule():
            return ()
        rest = [
            q.name
            for q in cls.params[1:]
            if q.schedulable or (q.schedulable is None and not (q.integer or q.epoch))
        ]
        return (cls.params[0].name, *rest)

    @classmethod
    def inverse_param(cls, name: str) -> bool:
        """Whether a schedule of parameter ``name`` scales its inverse (a bound)."""
        if name == cls.params[0].name:
            return cls.inverse_strength or cls.params[0].inverse
        return next(q.inverse for q in cls.params if q.name == name)

    trains_every_epoch: ClassVar[bool] = False
    attackable: ClassVar[bool] = True

    def __init__(self, **values: float) -> None:
        who = f"{type(self).__name__} ({self.key})"
        p = Problems()
        names = [q.name for q in self.params]
        for name in values:
            if name not in names:
                p.add(message(who, "parameter", "one of " + ", ".join(names), name))
        for q in self.params:
            if q.name not in values:
                p.add(message(who, q.name, "given", "nothing"))
                continue
            problem = q.check(who, values[q.name])
            if problem is not None:
                p.add(problem)
        p.raise_if_any()
        self.values: dict[str, float] = {q.name: float(values[q.name]) for q in self.params}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.values.items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Technique)
            and type(other) is type(self)
            and other.values == self.values
        )

    def __hash__(self) -> int:
        return hash((type(self), tuple(self.values.items())))

    # -- configuration -------------------------------------------------------------------------

    def get_config(self) -> dict[str, float]:
        """The constructor's arguments; ``type(t).from_config(t.get_config()) == t``."""
        return dict(self.values)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Technique:
        return cls(**config)

    def config(self) -> TechniqueConfig:
        """The value a :class:`~reglab.engine.spec.Strategy` carries."""
        return TechniqueConfig(self.key, tuple(self.values.items()))

    @property
    def off(self) -> bool:
        """Whether every parameter is at its "off" value."""
        return all(self.values[q.name] == q.off for q in self.params)

    @classmethod
    def search_space(cls) -> dict[str, Param]:
        """Each parameter with its range, scale and "off" value (a tuning search space)."""
        return {q.name: q for q in cls.params}

    # -- member-batched maths (override the ones of your kind) ---------------------------------

    @classmethod
    def penalty(cls, batch: Batch, values: Mapping[str, Tensor]) -> Tensor:
        """Each member's penalty ``[M]`` (``acts_on == "penalty"``)."""
        raise NotImplementedError(f"{cls.__name__} has no penalty")

    @classmethod
    def draw(cls, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        """One member's noise of ``shape`` from its own generator (default: standard normal)."""
        return rng.standard_normal(shape, dtype=np.float32)

    @classmethod
    def perturb(cls, h: Tensor, noise: Tensor, values: Mapping[str, Tensor]) -> Tensor:
        """``h`` ``[M, units, B]`` with the members' noise applied (noise kinds)."""
        raise NotImplementedError(f"{cls.__name__} has no noise")

    @classmethod
    def project(cls, kernel: Tensor, values: Mapping[str, Tensor]) -> Tensor:
        """A kernel ``[M, out, in]`` after the optimizer step (``acts_on == "projection"``).

        ``values`` also holds ``"lr"``, each member's learning rate ``[M]`` (a proximal step's
        threshold is the learning rate times the strength)."""
        raise NotImplementedError(f"{cls.__name__} has no projection")

    @classmethod
    def project_pair(
        cls, skip: Tensor, kernel: Tensor, values: Mapping[str, Tensor]
    ) -> tuple[Tensor, Tensor]:
        """A skip path's kernel ``[M, out, in]`` and the first kernel ``[M, units, in]`` after
        the optimizer step (``layers == "skip"``; ``values`` as for :meth:`project`)."""
        raise NotImplementedError(f"{cls.__name__} has no projection of a skip path")

    @classmethod
    def conflict(cls, keys: Sequence[str]) -> str | None:
        """Why this technique cannot be used with the strategy's technique ``keys`` (one
        clause, e.g. "`fgsm` must be used without `pgd`"), or ``None``. Default: the
        :attr:`requires` missing from ``keys``."""
        missing = [f"`{k}`" for k in cls.requires if k not in keys]
        if missing:
            return f"`{cls.key}` must be used with " + " and ".join(missing)
        return None

    @classmethod
    def run_problem(
        cls, values: Mapping[str, float], epochs: int, steps_per_epoch: int
    ) -> str | None:
        """Why a member with these ``values`` cannot train ``epochs`` epochs of
        ``steps_per_epoch`` optimizer steps (one line), or ``None`` (default)."""
        return None

    @classmethod
    def weight_copies(cls, values: Mapping[str, float]) -> int:
        """How many buffers the size of a member's flat weights the engine holds for it
        beside the optimizer's own (slow weights, running means, snapshots), at the most at
        once: the memory planner adds ``copies × parameters × 4`` bytes per member
        (:func:`reglab.engine.plan.dense_member_bytes`). Default: none."""
        return 0

    @classmethod
    def sample(
        cls,
        rng: np.random.Generator,
        values: Mapping[str, float],
        rows: int,
        shape: tuple[int, int],
    ) -> np.ndarray:
        """One member's draws for one step (``"batch"``/``"loss"`` kinds), from its own
        generator. ``values`` are the member's parameters, ``rows`` its real rows in the batch
        (the first ``rows`` columns), ``shape`` the batch's ``(F, B)``. The array's shape must
        depend on ``shape`` only. Default: nothing drawn (an empty array)."""
        return np.zeros(0, dtype=np.float32)

    @classmethod
    def transform(
        cls, batch: TrainingBatch, draws: Tensor, values: Mapping[str, Tensor]
    ) -> TrainingBatch:
        """The batch as the members train on it (``acts_on == "batch"``); ``draws`` stacks
        the members' :meth:`sample` (zeros for members without the technique)."""
        raise NotImplementedError(f"{cls.__name__} has no batch transform")

    @classmethod
    def loss(
        cls, ctx: LossContext, clean: Tensor, draws: Tensor, values: Mapping[str, Tensor]
    ) -> Tensor:
        """Each member's data loss ``[M]`` replacing ``clean`` (``acts_on == "loss"``)."""
        raise NotImplementedError(f"{cls.__name__} has no loss")

    # -- parametrization: extra learned tensors per Dense kernel ---------------------------------

    @classmethod
    def extra_params(
        cls, values: Mapping[str, float], kernel: tuple[int, int]
    ) -> dict[str, tuple[tuple[int, ...], float]]:
        """Beside a kernel of shape ``(out, in)``: each extra tensor's name, per-member shape and
        constant initial value, for one member's ``values`` (``acts_on == "parametrization"``).

        Members train in one stack only when their extra tensors have the same shapes."""
        raise NotImplementedError(f"{cls.__name__} has no parametrization")

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
        """A training-mode Dense layer: pre-activations ``[M, out, B]`` from ``h``
        ``[M, in, B]``, the layer's extra tensors ``[M, …]`` and each member's standard-normal
        ``noise`` ``[M, out, B]``."""
        raise NotImplementedError(f"{cls.__name__} has no parametrization")

    @classmethod
    def kl(
        cls, kernel: Tensor, extra: Mapping[str, Tensor], values: Mapping[str, Tensor]
    ) -> Tensor:
        """One layer's KL term of each member ``[M]`` (the engine adds ``KL / N`` to the loss,
        :func:`reglab.layers.variational.kl_per_example`)."""
        raise NotImplementedError(f"{cls.__name__} has no parametrization")

    @classmethod
    def eval_kernel(
        cls, kernel: Tensor, extra: Mapping[str, Tensor], values: Mapping[str, Tensor]
    ) -> Tensor:
        """The kernel ``[M, out, in]`` evaluation mode uses (and members export)."""
        return kernel

    def parametrize(
        self, model: nn.Module, n_train: int | None, generator: Any = None
    ) -> nn.Module:
        """The single-model form of a parametrization: ``model`` with it on every
        ``nn.Linear``, in place."""
        raise NotImplementedError(f"{type(self).__name__} has no parametrization")

    # -- single-model form ----------------------------------------------------------------------

    def module(self, seed: int = 0) -> nn.Module:
        """This technique for one's own model: a module placed where it acts.

        Noise kinds perturb their input in training mode (identity in eval); a penalty module
        passes its input through and keeps the activity penalty of the last training forward in
        ``.loss`` (add it to the loss, as Keras's ``add_loss``). Both run the member-batched
        maths with one member.
        """
        return _SingleModel(self, seed)


class _SingleModel(nn.Module):
    """:meth:`Technique.module`: one member's form of a noise or activity-penalty technique."""

    def __init__(self, technique: Technique, seed: int) -> None:
        super().__init__()
        if technique.acts_on in ("projection", "batch", "loss", "modifier", "epoch", "trajectory"):
            raise NotImplementedError(
                f"{type(technique).__name__}: a {technique.acts_on} technique has no module "
                "form; see its module() or its single-model function."
            )
        if technique.acts_on == "parametrization":
            raise NotImplementedError(
                f"{type(technique).__name__}: a parametrization has no module form; call "
                "parametrize(model, n_train) on your model."
            )
        self.technique = technique
        self.rng = np.random.default_rng(seed)
        self.loss: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:
        if not self.training:
            return x
        t = self.technique
        values = {k: torch.tensor([v], dtype=x.dtype, device=x.device) for k, v in t.values.items()}
        cols = x.reshape(len(x), -1).T.unsqueeze(0)  # [1, units, B]
        if t.acts_on == "penalty":
            weight = torch.full((1, 1, len(x)), 1.0 / len(x), dtype=x.dtype, device=x.device)
            self.loss = t.penalty(Batch([], [], [cols], weight), values)[0]
            return x
        if t.off:
            return x
        noise = torch.from_numpy(t.draw(self.rng, tuple(cols.shape[1:]))).to(x)
        out = t.perturb(cols, noise.unsqueeze(0), values)
        return out.squeeze(0).T.reshape(x.shape)
