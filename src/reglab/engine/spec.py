"""What a member is: an architecture, a strategy, a training set-up, its indices and its seed.

These frozen dataclasses are the contract between the study layer (which plans members) and the
engine (which trains them). Strengths follow Keras semantics (DESIGN §1): ``l1·Σ|w| + l2·Σw²``
added to the batch-mean data loss, on the kernels of the layers named by ``penalty_layers``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reglab._validation import (
    TASKS,
    Problems,
    check_choice,
    check_fraction,
    check_int,
    check_nonnegative,
    check_positive,
)
from reglab.errors import ConfigError
from reglab.techniques.base import TechniqueConfig

__all__ = ["Architecture", "MemberSpec", "Strategy", "TrainConfig", "WarmStart"]

ACTIVATIONS = ("relu", "tanh", "sigmoid", "elu", "selu", "gelu", "leaky_relu", "identity")
BLOCK_ORDERS = ("bn-act-drop", "act-bn-drop")
OPTIMIZERS = ("adam", "adamw", "sgd")
L1_MODES = ("penalty", "proximal")
DROPOUT_KINDS = ("standard", "gaussian")
PENALTY_LAYERS = ("hidden", "all", "first")
MONITORS = ("val_loss", "val_metric")


@dataclass(frozen=True)
class Architecture:
    """An MLP shape. Members with equal architectures can share a stack.

    ``batch_norm`` inserts batch normalization in every hidden block in ``block_order``.
    """

    in_features: int
    out_features: int
    hidden: tuple[int, ...] = (50, 25)
    activation: str = "relu"
    batch_norm: bool = False
    block_order: str = "bn-act-drop"
    task: str = "multiclass"

    def __post_init__(self) -> None:
        p = Problems()
        p.check(check_int, "Architecture", "in_features", self.in_features, minimum=1)
        p.check(check_int, "Architecture", "out_features", self.out_features, minimum=1)
        for h in self.hidden:
            p.check(check_int, "Architecture", "hidden", h, minimum=1)
        p.check(check_choice, "Architecture", "activation", self.activation, ACTIVATIONS)
        p.check(check_choice, "Architecture", "block_order", self.block_order, BLOCK_ORDERS)
        p.check(check_choice, "Architecture", "task", self.task, TASKS)
        p.raise_if_any()
        object.__setattr__(self, "hidden", tuple(self.hidden))

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """``(in, *hidden, out)``."""
        return (self.in_features, *self.hidden, self.out_features)


@dataclass(frozen=True)
class Strategy:
    """One regularization strategy, as per-member strengths.

    ``dropout`` is a rate applied after every hidden block, or one rate per hidden block;
    ``input_dropout`` drops input features. ``dropout_kind="gaussian"`` uses multiplicative
    Gaussian noise N(1, p/(1−p)) at the same places. ``drop_connect`` masks hidden-layer weights.
    ``max_norm`` (0 = off) bounds every unit's incoming weight norm after each step.
    ``weight_decay`` is decoupled (AdamW-style), never mixed into ``l2``. ``lr`` overrides the
    training set-up's learning rate. ``batch_norm`` asks the study to build the member's
    :class:`Architecture` with batch norm (the architecture is what the engine reads).
    ``techniques`` are registry techniques (:mod:`reglab.techniques`) as key and parameters;
    they appear in :meth:`to_dict` (and so in a member's content key) only when there are any,
    so the keys of strategies without them are those of earlier versions.

    ``l1``, ``l2``, ``drop_connect`` and ``max_norm`` may also be one value per layer
    (:meth:`layer_values`: the penalized kernels, the hidden kernels, every kernel).
    ``schedules`` are ``(technique key, schedule)`` pairs such as ``("l2", "warmup:10")``
    (:mod:`reglab.techniques.schedule`), or ``("KEY.PARAM", …)`` for a registry technique's
    parameter other than the first: that strength then changes per epoch
    (:func:`reglab.engine.strengths.in_effect`). Like ``techniques``, they are in
    :meth:`to_dict` only when there are any.
    """

    name: str = "none"
    l1: float | tuple[float, ...] = 0.0
    l2: float | tuple[float, ...] = 0.0
    l1_mode: str = "penalty"
    penalty_layers: str = "hidden"
    dropout: float | tuple[float, ...] = 0.0
    input_dropout: float = 0.0
    dropout_kind: str = "standard"
    drop_connect: float | tuple[float, ...] = 0.0
    max_norm: float | tuple[float, ...] = 0.0
    weight_decay: float = 0.0
    lr: float | None = None
    batch_norm: bool = False
    techniques: tuple[TechniqueConfig, ...] = ()
    schedules: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, name: str, *techniques: Any, lr: float | None = None) -> Strategy:
        """A strategy as a name plus technique configurations (or technique instances).

        Built-in techniques (:mod:`reglab.techniques.builtin`) set the fields the fused engine
        reads; registered ones are kept as configurations.

        >>> from reglab.techniques import TechniqueConfig as C
        >>> s = Strategy.of("x", C("l2", (("strength", 1e-4),)), C("dropout", (("rate", 0.3),)))
        >>> (s.l2, s.dropout, s.techniques)
        (0.0001, 0.3, ())
        """
        return cls(name=name, techniques=tuple(techniques), lr=lr)

    def __post_init__(self) -> None:
        who = f"Strategy {self.name!r}"
        self._fold_builtins(who)
        p = Problems()
        for name in LAYER_FIELDS:
            if isinstance(getattr(self, name), list):
                object.__setattr__(self, name, tuple(getattr(self, name)))
        for name in ("l1", "l2", "max_norm", "weight_decay"):
            for v in _values(getattr(self, name)):
                p.check(check_nonnegative, who, name, v)
        for rate in _values(self.dropout):
            p.check(check_fraction, who, "dropout", rate)
        p.check(check_fraction, who, "input_dropout", self.input_dropout)
        for rate in _values(self.drop_connect):
            p.check(check_fraction, who, "drop_connect", rate)
        if self.lr is not None:
            p.check(check_positive, who, "lr", self.lr)
        p.check(check_choice, who, "l1_mode", self.l1_mode, L1_MODES)
        p.check(check_choice, who, "dropout_kind", self.dropout_kind, DROPOUT_KINDS)
        p.check(check_choice, who, "penalty_layers", self.penalty_layers, PENALTY_LAYERS)
        techniques = self.techniques
        keys = [t.key for t in techniques]
        if len(set(keys)) != len(keys):
            p.add(f"{who}: `techniques` must name each technique once; got {keys}.")
        from reglab.techniques import get

        for key in keys:
            clash = get(key).conflict(keys)
            if clash is not None:
                p.add(f"{who}: {clash}; got {'+'.join(keys)}.")
        pairs = sorted((_canonical(k, t) for k, t in self.schedules), key=_term_order)
        object.__setattr__(self, "schedules", tuple(pairs))
        if self.schedules and not p.messages:
            from reglab.engine.strengths import schedule_problems

            for problem in schedule_problems(self, who):
                p.add(problem)
        p.raise_if_any()

    def _fold_builtins(self, who: str) -> None:
        """Built-in techniques given as configurations become the fields the engine reads."""
        from reglab.techniques import Technique, get, is_builtin

        kept: list[TechniqueConfig] = []
        set_by: dict[str, str] = {}
        for t in self.techniques:
            config = t.config() if isinstance(t, Technique) else t
            if not isinstance(config, TechniqueConfig):
                config = TechniqueConfig.from_dict(config)
            cls = get(config.key)
            if not is_builtin(cls):
                kept.append(config)
                continue
            for name, value in cls.to_fields(config.values).items():  # type: ignore[attr-defined]
                if name in set_by or getattr(self, name) != _FIELD_DEFAULTS[name]:
                    raise ConfigError(
                        f"{who}: `{name}` must be set once; got it from "
                        f"{set_by.get(name, 'the fields')!r} and {config.key!r}."
                    )
                set_by[name] = config.key
                object.__setattr__(self, name, value)
        object.__setattr__(self, "techniques", tuple(kept))

    def configs(self) -> tuple[TechniqueConfig, ...]:
        """Every technique this strategy uses, built-in ones included, in canonical order.

        >>> [c.key for c in Strategy(l2=1e-4, dropout=0.3).configs()]
        ['dropout', 'l2']
        """
        from reglab.techniques import builtins, get

        found = []
        for cls in builtins():
            values = cls.values_of(self)
            if values is not None:
                found.append((cls.order, TechniqueConfig(cls.key, tuple(values.items()))))
        found.extend((get(c.key).order, c) for c in self.techniques)
        return tuple(c for _, c in sorted(found, key=lambda t: t[0]))

    def dropout_rates(self, n_hidden: int) -> tuple[float, ...]:
        """One dropout rate per hidden block."""
        return self.layer_values("dropout", n_hidden)

    def layer_values(self, name: str, n_hidden: int) -> tuple[float, ...]:
        """Field ``name``'s value on each of the layers it acts on, for ``n_hidden`` hidden
        layers: ``dropout`` after each hidden block, ``drop_connect`` on each hidden kernel,
        ``l1``/``l2`` on each penalized kernel (:meth:`penalized`), ``max_norm`` on every
        kernel (output last). A per-layer value of the wrong length is refused in one line.

        >>> Strategy(l2=(1e-3, 0.0), penalty_layers="hidden").layer_values("l2", 2)
        (0.001, 0.0)
        """
        value = getattr(self, name)
        if name in ("l1", "l2"):
            n, what = sum(self.penalized(n_hidden + 1)), "penalized layer"
        elif name == "max_norm":
            n, what = n_hidden + 1, "Dense layer (the output layer last)"
        else:
            n, what = n_hidden, "hidden layer"
        if isinstance(value, tuple):
            if len(value) != n:
                unit = "rate" if name == "dropout" else "value"
                raise ConfigError(
                    f"Strategy {self.name!r}: `{name}` must have one {unit} per {what} ({n}); "
                    f"got {len(value)} {unit}s."
                )
            return value
        return (float(value),) * n

    def one(self, name: str) -> float:
        """Field ``name`` as one value for every layer (model families without per-layer
        strengths; the engine refuses per-layer values for them before training)."""
        value = getattr(self, name)
        if isinstance(value, tuple):
            raise ConfigError(
                f"Strategy {self.name!r}: `{name}` must be one value for this model; got "
                f"{len(value)} values."
            )
        return float(value)

    def kernel_values(self, name: str, n_layers: int) -> tuple[float, ...]:
        """``l1``/``l2``/``max_norm`` on each of the ``n_layers`` Dense kernels (output last),
        0 on kernels the field does not act on."""
        values = iter(self.layer_values(name, n_layers - 1))
        if name == "max_norm":
            return tuple(values)
        return tuple(next(values) if on else 0.0 for on in self.penalized(n_layers))

    def penalized(self, n_layers: int) -> tuple[bool, ...]:
        """Which of the ``n_layers`` linear layers (output last) carry the l1/l2 penalty."""
        if self.penalty_layers == "all":
            return (True,) * n_layers
        if self.penalty_layers == "first":
            return (True,) + (False,) * (n_layers - 1)
        return (True,) * (n_layers - 1) + (False,)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields; ``techniques`` and ``schedules`` only when there are any (stable
        store keys)."""
        data = dataclasses.asdict(self)
        del data["techniques"], data["schedules"]
        if self.techniques:
            data["techniques"] = [t.to_dict() for t in self.techniques]
        if self.schedules:
            data["schedules"] = [list(pair) for pair in self.schedules]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Strategy:
        data = dict(data)
        techniques = tuple(TechniqueConfig.from_dict(t) for t in data.pop("techniques", ()))
        schedules = tuple((str(k), str(t)) for k, t in data.pop("schedules", ()))
        return cls(**data, techniques=techniques, schedules=schedules)


LAYER_FIELDS = ("l1", "l2", "dropout", "drop_connect", "max_norm")
"""The :class:`Strategy` fields that may hold one value per layer."""

_FIELD_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Strategy)}


def _canonical(key: Any, text: Any) -> tuple[str, str]:
    """A schedule pair with the schedule's canonical text (as given when it is invalid) and
    ``KEY`` for ``KEY.FIRST`` (:func:`~reglab.engine.strengths.canonical_key`)."""
    from reglab.engine.strengths import canonical_key
    from reglab.techniques.schedule import Schedule

    key = canonical_key(str(key))
    try:
        return key, Schedule.parse(str(text)).text()
    except ConfigError:
        return key, str(text)


def _term_order(pair: tuple[str, str]) -> tuple[int, str, int]:
    """Schedules in the canonical order of their techniques' terms, then of parameters."""
    from reglab.engine.strengths import split_key
    from reglab.techniques import get, keys

    key, param = split_key(pair[0])
    if key not in set(keys()):
        return (10**6, pair[0], -1)
    names = [q.name for q in get(key).params]
    return (get(key).order, key, names.index(param) if param in names else -1)


def _values(value: Any) -> tuple[Any, ...]:
    return tuple(value) if isinstance(value, tuple | list) else (value,)


@dataclass(frozen=True)
class TrainConfig:
    """How members are trained. ``patience=None`` disables early stopping (fixed epochs)."""

    epochs: int = 100
    batch_size: int = 32
    lr: float = 1e-3
    optimizer: str = "adam"
    patience: int | None = 10
    min_delta: float = 0.0
    monitor: str = "val_loss"

    def __post_init__(self) -> None:
        p = Problems()
        who = "TrainConfig"  # each setting named with the command-line option that sets it
        p.check(check_int, who, "epochs", self.epochs, minimum=1, flag="--epochs")
        p.check(check_int, who, "batch_size", self.batch_size, minimum=1, flag="--batch-size")
        p.check(check_positive, who, "lr", self.lr, flag="--lr")
        p.check(check_choice, who, "optimizer", self.optimizer, OPTIMIZERS, flag="--optimizer")
        if self.patience is not None:
            p.check(check_int, who, "patience", self.patience, minimum=0, flag="--patience")
        p.check(check_nonnegative, "TrainConfig", "min_delta", self.min_delta)
        p.check(check_choice, "TrainConfig", "monitor", self.monitor, MONITORS)
        p.raise_if_any()

    @property
    def early_stopping(self) -> bool:
        return self.patience is not None


@dataclass(frozen=True)
class WarmStart:
    """Start a member from another member's final weights instead of its seed's draw.

    ``source`` is the content key (:meth:`MemberSpec.key`) of the member whose weights these
    are; it enters the warm member's own key, so a chain of warm starts is keyed by its whole
    history. ``weights`` is that member's ``state_dict`` (:attr:`MemberResult.weights
    <reglab.engine.result.MemberResult.weights>`); ``None`` while only planned. The optimizer
    starts afresh and batch-norm running statistics restart; batches and noise still come from
    the member's own seed.
    """

    source: str
    weights: dict[str, np.ndarray] | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class MemberSpec:
    """One model to train: architecture, strategy, set-up, row indices into the data, seed.

    ``val_idx`` is the inner validation split (carved from the outer training part) used for
    early stopping; it may be empty when early stopping is off. ``test_idx`` is scored once,
    after training, with the restored best weights.

    ``numeric_features``: the first this many input columns are numeric, the others one-hot
    (the order :class:`~reglab.data.Preprocessor` writes them); techniques that perturb inputs
    (``input-noise``, ``fgsm``, ``pgd``, the robust score) leave one-hot columns alone.
    ``None``: every column is numeric. It describes the data, as the arrays do, and is not part
    of :meth:`key`.

    ``robust_eps > 0`` also scores the member's test rows under a PGD attack of that ε
    (``robust_steps`` steps, :mod:`reglab.engine.robust`): ``robust_accuracy`` beside the
    clean scores. Part of :meth:`key` only when set.
    """

    arch: Architecture
    strategy: Strategy
    train: TrainConfig
    train_idx: np.ndarray = field(repr=False)
    val_idx: np.ndarray = field(repr=False)
    test_idx: np.ndarray = field(repr=False)
    seed: int = 0
    split_id: int = 0
    tags: tuple[tuple[str, Any], ...] = ()
    numeric_features: int | None = None
    robust_eps: float = 0.0
    robust_steps: int = 10
    warm_start: WarmStart | None = None

    @property
    def lr(self) -> float:
        return self.strategy.lr if self.strategy.lr is not None else self.train.lr

    @property
    def batch_size(self) -> int:
        """The mini-batch size the member trains with: ``train.batch_size``, at most its rows.

        A batch size above the number of training rows means full-batch training, exactly as
        ``batch_size = len(train_idx)``; nothing is allocated for the larger nominal size.
        """
        return max(1, min(self.train.batch_size, len(self.train_idx)))

    @property
    def stack_key(self) -> tuple[Any, ...]:
        """Members with equal keys are trained in one stack (a parametrization technique's
        extra blocks are part of the stack's layout: :mod:`reglab.engine.parametrize`; a
        technique that :attr:`~reglab.techniques.Technique.trains_apart` keeps its members
        in stacks of their own)."""
        key: tuple[Any, ...] = (self.arch, self.batch_size, self.train.optimizer)
        if self.strategy.techniques:
            from reglab.engine.parametrize import signature
            from reglab.techniques import get

            extra = signature(self.strategy, self.arch)
            if extra:
                key += (extra,)
            apart = sorted({t.key for t in self.strategy.techniques if get(t.key).trains_apart})
            if apart:
                key += (("apart", *apart),)
        return key

    def key(self) -> str:
        """A content hash: equal specs (same data indices included) give equal keys."""
        h = hashlib.sha256()
        arch = dataclasses.asdict(self.arch)
        if arch.get("branch_norm") is False:  # residual members without it keep earlier keys
            del arch["branch_norm"]
        payload = {
            "arch": arch,
            "strategy": self.strategy.to_dict(),
            "train": dataclasses.asdict(self.train),
            "seed": self.seed,
            "split_id": self.split_id,
        }
        if self.robust_eps:
            payload["robust"] = [self.robust_eps, self.robust_steps]
        if self.warm_start is not None:
            payload["warm_start"] = self.warm_start.source
        h.update(json.dumps(payload, sort_keys=True, default=str).encode())
        for idx in (self.train_idx, self.val_idx, self.test_idx):
            h.update(np.ascontiguousarray(idx, dtype=np.int64).tobytes())
            h.update(b"|")
        return h.hexdigest()[:32]
