"""The built-in techniques: L1, L2, elastic net, the dropout family, DropConnect, max-norm,
batch norm and decoupled weight decay, each one registry entry.

Each class is the one place that says, for its technique: the grammar key and parameters
(with each strength's search range, scale and "off"), the preset practitioners start from,
the :class:`~reglab.engine.spec.Strategy` fields it compiles to (the engine's hand-written
fused path reads those fields, so every built-in declares ``fused = True``), how a strategy
that uses it is written back as grammar text and described in words, and its single-model
form for one's own PyTorch model (:meth:`BuiltinTechnique.single_model_form`).

The grammar, the presets, strategy files, canonical names, table and report labels, the
tuning search spaces and the scikit-learn estimator's regularization parameters all read
these entries.

>>> from reglab.techniques import get
>>> get("l2").to_fields({"strength": 1e-3})
{'l2': 0.001}
>>> get("elasticnet").to_fields({"alpha": 1e-3, "l1_ratio": 0.5})
{'l1': 0.0005, 'l2': 0.00025}
>>> rate = get("dropout").search_space()["rate"]
>>> rate.low, rate.high, rate.scale, rate.off
(0.05, 0.7, 'linear', 0.0)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from reglab._numbers import format_number
from reglab.techniques.base import Param, Technique
from reglab.techniques.registry import register

__all__ = [
    "BUILTIN_FIELDS",
    "L1",
    "L2",
    "BatchNorm",
    "BuiltinTechnique",
    "DropConnect",
    "Dropout",
    "ElasticNet",
    "GaussianDropout",
    "InputDropout",
    "MaxNorm",
    "WeightDecay",
    "builtins",
    "is_builtin",
]


def _rates_text(value: float | tuple[float, ...]) -> str:
    seq = value if isinstance(value, tuple) else (value,)
    return "/".join(format_number(v) for v in seq)


class BuiltinTechnique(Technique):
    """A technique the engine's fused path implements through :class:`Strategy` fields.

    Class attributes (beside :class:`Technique`'s):
        fields: The :class:`Strategy` fields the technique sets.
        flag: A term without a value (``batchnorm``); such a technique has no parameters.
        per_layer: The first parameter may be one value per hidden block (``0.2/0.5``).
        preset: The preset's description and parameter values (``None``: no preset).
        zero_hint: Why an explicit value equal to "off" is refused (``maxnorm=0``), or ``""``
            when "off" may be written explicitly.

    Every built-in strength may follow a schedule (``l2=1e-4@warmup:10``,
    :mod:`reglab.techniques.schedule`), batch norm's switch and elastic net (written back as
    ``l1`` and ``l2``, which carry its schedule) aside.
    """

    fused = True
    schedulable = True
    fields: ClassVar[tuple[str, ...]] = ()
    flag: ClassVar[bool] = False
    per_layer: ClassVar[bool] = False
    preset: ClassVar[tuple[str, Mapping[str, Any]] | None] = None
    zero_hint: ClassVar[str] = ""

    @classmethod
    def to_fields(cls, values: Mapping[str, Any]) -> dict[str, Any]:
        """The :class:`Strategy` fields these parameter values set."""
        (name,) = cls.fields
        return {name: values[cls.params[0].name]}

    @classmethod
    def values_of(cls, strategy: Any) -> dict[str, Any] | None:
        """This technique's parameter values in ``strategy``, or ``None`` when it is off."""
        (name,) = cls.fields
        value = getattr(strategy, name)
        return {cls.params[0].name: value} if value else None

    @classmethod
    def text(cls, values: Mapping[str, Any]) -> str:
        """The canonical grammar term (``l2=1e-4``)."""
        if cls.flag:
            return cls.key
        return f"{cls.key}=" + ":".join(_rates_text(values[q.name]) for q in cls.params)

    @classmethod
    def phrase(cls, values: Mapping[str, Any]) -> str:
        """A short human phrase (``L2 1e-4``)."""
        if cls.flag:
            return cls.label
        return f"{cls.label} " + ":".join(_rates_text(values[q.name]) for q in cls.params)

    @classmethod
    def single_model_form(cls, values: Mapping[str, Any]) -> Any:
        """What to attach to one's own PyTorch model: a module, regularizer or constraint."""
        raise NotImplementedError(f"{cls.__name__} has no single-model form")


class L1(BuiltinTechnique):
    """``l1=S``: ``S·Σ|w|`` on the penalized kernels (Keras ``L1``); ``proximal`` for zeros.

    ``l1=S1/S2/…``: one strength per penalized kernel (``penalty-layers``), in layer order.
    """

    key = "l1"
    params = (Param("strength", 1e-6, 1e-2, "log"),)
    acts_on = "penalty"
    label = "L1"
    order = 50
    fields = ("l1",)
    per_layer = True
    preset = (
        "L1 penalty 1e-4 on hidden kernels (Keras l1·Σ|w|): sparse weights.",
        {"strength": 1e-4},
    )

    @classmethod
    def single_model_form(cls, values: Mapping[str, Any]) -> Any:
        from reglab.regularizers import L1 as L1Regularizer

        return L1Regularizer(values["strength"])


class L2(BuiltinTechnique):
    """``l2=S``: ``S·Σw²`` on the penalized kernels (Keras ``L2``, no ½); ``l2=S1/S2/…``
    one strength per penalized kernel (``penalty-layers``), in layer order."""

    key = "l2"
    params = (Param("strength", 1e-6, 1e-2, "log"),)
    acts_on = "penalty"
    label = "L2"
    order = 60
    fields = ("l2",)
    per_layer = True
    preset = ("L2 penalty 1e-4 on hidden kernels (Keras l2·Σw², no ½).", {"strength": 1e-4})

    @classmethod
    def single_model_form(cls, values: Mapping[str, Any]) -> Any:
        from reglab.regularizers import L2 as L2Regularizer

        return L2Regularizer(values["strength"])


class ElasticNet(BuiltinTechnique):
    """``elasticnet=A:R`` in scikit-learn's terms: ``l1 = A·R``, ``l2 = ½·A·(1−R)``.

    A strategy keeps the two strengths, so it is written back as ``l1=…+l2=…``.
    """

    key = "elasticnet"
    params = (
        Param("alpha", 1e-6, 1e-2, "log"),
        Param("l1_ratio", 0.05, 0.95, "linear", off=0.5, maximum=1.0),
    )
    acts_on = "penalty"
    label = "elastic net"
    order = 45
    fields = ("l1", "l2")
    schedulable = False  # written back as l1 and l2, which carry its schedule
    preset = ("Elastic net: L1 5e-5 + L2 5e-5 (Keras L1L2).", {"l1": 5e-5, "l2": 5e-5})

    @classmethod
    def to_fields(cls, values: Mapping[str, Any]) -> dict[str, Any]:
        if "l1" in values:  # the preset, in Keras's terms
            return {"l1": values["l1"], "l2": values["l2"]}
        from reglab.regularizers.penalties import ElasticNet as ElasticNetRegularizer

        en = ElasticNetRegularizer(alpha=values["alpha"], l1_ratio=values["l1_ratio"])
        return {"l1": en.l1, "l2": en.l2}

    @classmethod
    def values_of(cls, strategy: Any) -> dict[str, Any] | None:
        return None  # L1 and L2 describe the strengths a strategy keeps

    @classmethod
    def single_model_form(cls, values: Mapping[str, Any]) -> Any:
        from reglab.regularizers import L1L2

        return L1L2(**cls.to_fields(values))


class _Rate(BuiltinTechnique):
    """A technique whose parameter is a drop rate in [0, 1)."""

    params = (Param("rate", 0.05, 0.7, "linear", maximum=1.0),)


class Dropout(_Rate):
    """``dropout=P`` after every hidden block, or ``dropout=P1/P2`` one rate per block."""

    key = "dropout"
    acts_on = "hidden-noise"
    label = "dropout"
    order = 30
    fields = ("dropout",)
    per_layer = True
    preset = ("Dropout 0.3 after every hidden block (inverted scaling).", {"rate": 0.3})

    @classmethod
    def values_of(cls, strategy: Any) -> dict[str, Any] | None:
        per_layer = isinstance(strategy.dropout, tuple)  # written even when all zero
        if strategy.dropout_kind != "standard" or not (per_layer or strategy.dropout):
            return None
        return {"rate": strategy.dropout}

    @classmethod
    def to_fields(cls, values: Mapping[str, Any]) -> dict[str, Any]:
        return {"dropout": values["rate"]}

    @classmethod
    def single_model_form(cls, values: Mapping[str, Any]) -> Any:
        from reglab.layers import Dropout as DropoutLayer

        return DropoutLayer(values["rate"])


class GaussianDropout(_Rate):
    """``gaussian-dropout=P``: multiplicative noise N(1, p/(1−p)) at the dropout places."""

    key = "gaussian-dropout"
    acts_on = "hidden-noise"
    label = "Gaussian dropout"
    order = 30
    fields = ("dropout", "dropout_kind")
    per_layer = True
    preset = (
        "Gaussian dropout 0.3: multiplicative noise N(1, p/(1−p)) after hidden blocks.",
        {"rate": 0.3},
    )

    @classmethod
    def to_fields(cls, values: Mapping[str, Any]) -> dict[str, Any]:
        return {"dropout": values["rate"], "dropout_kind": "gaussian"}

    @classmethod
    def values_of(cls, strategy: Any) -> dict[str, Any] | None:
        return {"rate": strategy.dropout} if strategy.dropout_kind == "gaussian" else None

    @classmethod
    def single_model_form(cls, values: Mapping[str, Any]) -> Any:
        from reglab.layers import GaussianDropout as GaussianDropoutLayer

        return GaussianDropoutLayer(values["rate"])


class InputDropout(_Rate):
    """``input-dropout=P``: dropout on the input features (Gaussian with ``gaussian-dropout``)."""

    key = "input-dropout"
    params = (Param("rate", 0.05, 0.5, "linear", maximum=1.0),)
    acts_on = "input-noise"
    label = "input dropout"
    order = 20
    fields = ("input_dropout",)

    @classmethod
    def single_model_form(cls, values: Mapping[str, Any]) -> Any:
        from reglab.layers import Dropout as DropoutLayer

        return DropoutLayer(values["rate"])


class DropConnect(_Rate):
    """``dropconnect=P``: drop a fraction P of the hidden layers' weights at each step;
    ``dropconnect=P1/P2`` one rate per hidden kernel."""

    key = "dropconnect"
    acts_on = "weight-noise"
    label = "DropConnect"
    order = 40
    fields = ("drop_connect",)
    per_layer = True
    preset = ("DropConnect: drop 30% of hidden-layer weights.", {"rate": 0.3})

    @classmethod
    def single_model_form(cls, values: Mapping[str, Any]) -> Any:
        from functools import partial

        from reglab.layers import drop_connect

        return partial(drop_connect, p=values["rate"])


class MaxNorm(BuiltinTechnique):
    """``maxnorm=C``: every unit's incoming weight norm bounded by C after each step;
    ``maxnorm=C1/C2/…`` one bound per Dense kernel (the output layer's last)."""

    key = "maxnorm"
    params = (Param("norm", 0.5, 10.0, "log", minimum=1e-12),)
    acts_on = "projection"
    label = "max-norm"
    order = 80
    fields = ("max_norm",)
    per_layer = True
    inverse_strength = True
    preset = ("Max-norm 3 on every unit's incoming weights (Srivastava 2014).", {"norm": 3.0})
    zero_hint = "a norm > 0 (leave the term out for no constraint)"

    @classmethod
    def single_model_form(cls, values: Mapping[str, Any]) -> Any:
        from reglab.regularizers import MaxNorm as MaxNormConstraint

        return MaxNormConstraint(values["norm"])


class WeightDecay(BuiltinTechnique):
    """``weight-decay=D``: decoupled (AdamW) weight decay, never mixed into ``l2``."""

    key = "weight-decay"
    params = (Param("decay", 1e-5, 1e-1, "log"),)
    acts_on = "optimizer"
    label = "weight decay"
    order = 90
    fields = ("weight_decay",)
    preset = ("Decoupled (AdamW) weight decay 1e-2, PyTorch's default.", {"decay": 1e-2})

    @classmethod
    def single_model_form(cls, values: Mapping[str, Any]) -> Any:
        """The optimizer's keyword: ``torch.optim.AdamW(params, **form)``."""
        return {"weight_decay": values["decay"]}


class BatchNorm(BuiltinTechnique):
    """``batchnorm``: batch normalization in every hidden block (a switch, no strength)."""

    key = "batchnorm"
    params = ()
    acts_on = "layer"
    label = "batch norm"
    order = 10
    fields = ("batch_norm",)
    flag = True
    schedulable = False
    preset = ("Batch normalization in every hidden block.", {})

    @classmethod
    def to_fields(cls, values: Mapping[str, Any]) -> dict[str, Any]:
        return {"batch_norm": True}

    @classmethod
    def values_of(cls, strategy: Any) -> dict[str, Any] | None:
        return {} if strategy.batch_norm else None

    @classmethod
    def single_model_form(cls, values: Mapping[str, Any]) -> Any:
        from functools import partial

        from torch import nn

        return partial(nn.BatchNorm1d)  # BatchNorm1d(units) in each hidden block


_BUILTINS: tuple[type[BuiltinTechnique], ...] = (
    BatchNorm, InputDropout, Dropout, GaussianDropout, DropConnect, ElasticNet, L1, L2, MaxNorm,
    WeightDecay,
)  # fmt: skip
for _cls in _BUILTINS:
    register(_cls)

BUILTIN_FIELDS: tuple[str, ...] = tuple(dict.fromkeys(f for c in _BUILTINS for f in c.fields))
"""Every :class:`Strategy` field a built-in technique sets."""


def builtins() -> tuple[type[BuiltinTechnique], ...]:
    """The built-in techniques, in canonical order."""
    return tuple(sorted(_BUILTINS, key=lambda c: (c.order, c.key)))


def is_builtin(cls: type[Technique]) -> bool:
    return isinstance(cls, type) and issubclass(cls, BuiltinTechnique)
