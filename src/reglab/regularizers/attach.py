"""Attach regularizers and constraints to any ``nn.Module``, and collect their penalties.

**Protocol** (reglab's own layers follow it, and any module may):

* ``module._reglab_regularizers: dict[str, Regularizer]`` — the module's *own* parameters
  (``module.named_parameters(recurse=False)`` names, e.g. ``"weight"``) and their penalties
  (a plain callable ``w -> 0-d tensor`` works too; it is always in penalty mode);
* ``module._reglab_constraints: dict[str, Constraint]`` — likewise for constraints (or any
  callable ``w -> projected w``);
* ``module.activity_loss`` — a module with an activity regularizer stores the penalty of its
  last training forward pass there (already divided by the batch size, as Keras), a 0-d tensor
  or ``None``.

:func:`add_regularizer` / :func:`add_constraint` write these dicts for a selection of
parameters; :func:`regularization_loss` sums every penalty (a parameter shared by several
modules, or tied under several names, is counted once) plus the activity losses;
:func:`apply_constraints` projects every constrained parameter in place.

>>> import torch
>>> from torch import nn
>>> from reglab.regularizers import L2
>>> model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
>>> add_regularizer(model, L2(0.01))
['0.weight', '2.weight']
>>> loss_pen = regularization_loss(model)
>>> expected = 0.01 * (model[0].weight.pow(2).sum() + model[2].weight.pow(2).sum())
>>> bool(torch.isclose(loss_pen, expected))
True
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

import torch
from torch import Tensor, nn

from reglab._validation import message, suggest
from reglab.errors import ConfigError
from reglab.regularizers.constraints import Constraint
from reglab.regularizers.penalties import Regularizer

__all__ = [
    "CONSTRAINTS_ATTR",
    "DEFAULT_MODULES",
    "NORM_MODULES",
    "REGULARIZERS_ATTR",
    "add_constraint",
    "add_regularizer",
    "apply_constraints",
    "clear_constraints",
    "clear_regularizers",
    "iter_constrained",
    "iter_regularized",
    "penalty_breakdown",
    "regularization_loss",
]

REGULARIZERS_ATTR = "_reglab_regularizers"
CONSTRAINTS_ATTR = "_reglab_constraints"
ACTIVITY_ATTR = "activity_loss"

DEFAULT_MODULES: tuple[type[nn.Module], ...] = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
"""Modules whose weights :func:`add_regularizer` selects when no ``modules`` are given."""

NORM_MODULES: tuple[type[nn.Module], ...] = tuple(
    t
    for t in (
        nn.modules.batchnorm._NormBase,  # BatchNorm*, InstanceNorm*, SyncBatchNorm
        nn.LayerNorm,
        nn.GroupNorm,
        getattr(nn, "RMSNorm", None),
    )
    if isinstance(t, type)
)
"""Normalization layers: their parameters are never selected unless named explicitly."""

_WILDCARDS = frozenset("*?[")


@dataclass(frozen=True)
class _Found:
    full_name: str
    module_name: str
    module: nn.Module
    param_name: str
    param: nn.Parameter


def _full(module_name: str, param_name: str) -> str:
    return f"{module_name}.{param_name}" if module_name else param_name


def _all_parameters(model: nn.Module) -> Iterator[_Found]:
    """Every (module, own parameter) pair; reused modules appear once, tied parameters twice."""
    for mname, module in model.named_modules():
        for pname, param in module.named_parameters(recurse=False):
            yield _Found(_full(mname, pname), mname, module, pname, param)


def _is_bias(param_name: str) -> bool:
    # "bias" (Linear, Conv), "bias_ih_l0" (RNNs), "in_proj_bias" (MultiheadAttention)
    return param_name.startswith("bias") or param_name.endswith("_bias")


def _literal(text: str) -> bool:
    return not (_WILDCARDS & set(text))


def _names_explicitly(pattern: str, found: _Found, *, bias: bool, norm: bool) -> bool:
    """Whether ``pattern`` names an excluded parameter explicitly (see add_regularizer)."""
    head, _, last = pattern.rpartition(".")
    if norm:  # the normalization layer itself must be named: "bn1.weight", "enc.bn.*"
        return _literal(head) and head == found.module_name
    return bias and _literal(last) and last == found.param_name  # "*.bias", "fc.bias"


def _check_modules(who: str, modules: Any) -> tuple[type[nn.Module], ...] | None:
    if modules is None:
        return None
    types = modules if isinstance(modules, tuple | list) else (modules,)
    if not types or not all(isinstance(t, type) and issubclass(t, nn.Module) for t in types):
        raise ConfigError(
            message(who, "modules", "an nn.Module subclass, a tuple of them, or None", modules)
        )
    return tuple(types)


def _select(
    who: str,
    model: Any,
    *,
    modules: Any,
    names: Any,
    include_bias: bool,
) -> list[_Found]:
    """The parameters selected by ``modules``/``names``/``include_bias`` (errors if none)."""
    if not isinstance(model, nn.Module):
        raise ConfigError(message(who, "model", "a torch.nn.Module", type(model).__name__))
    types = _check_modules(who, modules)
    if names is not None and (not isinstance(names, str) or not names):
        raise ConfigError(message(who, "names", "a non-empty fnmatch pattern (str) or None", names))
    if not isinstance(include_bias, bool):
        raise ConfigError(message(who, "include_bias", "a bool", include_bias))

    selected: list[_Found] = []
    candidates: list[str] = []
    for found in _all_parameters(model):
        candidates.append(found.full_name)
        if types is not None and not isinstance(found.module, types):
            continue
        if names is not None and not fnmatchcase(found.full_name, names):
            continue
        bias = _is_bias(found.param_name)
        norm = isinstance(found.module, NORM_MODULES)
        if bias or norm:
            explicit = names is not None and _names_explicitly(names, found, bias=bias, norm=norm)
            if not (explicit or (include_bias and bias and not norm)):
                continue
        selected.append(found)

    if not selected:
        if names is not None:
            what, got = "names", names
            expected = "a pattern matching at least one selectable parameter"
        else:
            what, got = "modules", tuple(t.__name__ for t in types or ())
            expected = "types selecting at least one parameter"
        hint = suggest(names, candidates) if names is not None else ""
        if not hint and candidates:
            shown = ", ".join(candidates[:8]) + (", ..." if len(candidates) > 8 else "")
            hint = f" Parameters: {shown}."
        raise ConfigError(
            message(who, what, expected, got)
            + hint
            + " (Biases and normalization layers are skipped unless include_bias=True"
            " or `names` names them explicitly.)"
        )
    return selected


def add_regularizer(
    model: nn.Module,
    regularizer: Regularizer,
    *,
    modules: type[nn.Module] | tuple[type[nn.Module], ...] | None = DEFAULT_MODULES,
    names: str | None = None,
    include_bias: bool = False,
) -> list[str]:
    """Attach ``regularizer`` to the selected parameters of any model (pretrained ones too).

    A parameter is selected when its module is an instance of ``modules`` (``None``: any
    module) **and** its full name (``"encoder.0.weight"``) matches the fnmatch pattern
    ``names`` (``None``: any name). Biases and the parameters of normalization layers
    (BatchNorm, InstanceNorm, LayerNorm, GroupNorm, RMSNorm) are skipped, except:

    * biases, with ``include_bias=True`` or when the last part of ``names`` names them without
      wildcards (``"*.bias"``, ``"fc.bias"``);
    * normalization parameters, when ``names`` names the layer without wildcards
      (``"bn1.weight"``, ``"encoder.bn.*"``; with ``modules=None`` or a norm type).

    Attaching again replaces the regularizer of a parameter. The penalty is
    ``regularizer(param)``, summed by :func:`regularization_loss`.

    Args:
        model: Any module.
        regularizer: An :class:`~reglab.regularizers.Regularizer`.
        modules: Module types to select from; default Linear and Conv1d/2d/3d.
        names: fnmatch pattern over full parameter names.
        include_bias: Also select biases.

    Returns:
        The full names of the selected parameters (a tied parameter once, by its first name).

    Raises:
        ConfigError: on invalid arguments, or when the selection matches no parameter.

    >>> from torch import nn
    >>> from reglab.regularizers import L1
    >>> net = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3), nn.Linear(3, 1))
    >>> add_regularizer(net, L1(1e-3), include_bias=True)
    ['0.weight', '0.bias', '2.weight', '2.bias']
    >>> add_regularizer(net, L1(1e-3), modules=None, names="1.*")
    ['1.weight', '1.bias']
    """
    who = "add_regularizer"
    if not isinstance(regularizer, Regularizer):
        raise ConfigError(
            message(who, "regularizer", "a Regularizer (L1, L2, L1L2, ElasticNet)", regularizer)
        )
    found = _select(who, model, modules=modules, names=names, include_bias=include_bias)
    return _attach(found, REGULARIZERS_ATTR, regularizer)


def add_constraint(
    model: nn.Module,
    constraint: Constraint,
    *,
    modules: type[nn.Module] | tuple[type[nn.Module], ...] | None = DEFAULT_MODULES,
    names: str | None = None,
    include_bias: bool = False,
) -> list[str]:
    """Attach ``constraint`` to the selected parameters (selection as :func:`add_regularizer`).

    The constraint takes effect when :func:`apply_constraints` runs, after every optimizer step.

    >>> from torch import nn
    >>> from reglab.regularizers import MaxNorm
    >>> add_constraint(nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1)), MaxNorm(3.0))
    ['0.weight', '1.weight']
    """
    who = "add_constraint"
    if not isinstance(constraint, Constraint):
        raise ConfigError(
            message(who, "constraint", "a Constraint (MaxNorm, UnitNorm, ...)", constraint)
        )
    found = _select(who, model, modules=modules, names=names, include_bias=include_bias)
    return _attach(found, CONSTRAINTS_ATTR, constraint)


def _attach(found: list[_Found], attr: str, value: Any) -> list[str]:
    seen: set[int] = set()
    attached: list[str] = []
    for f in found:
        table = f.module.__dict__.get(attr)
        if table is None:
            table = {}
            object.__setattr__(f.module, attr, table)
        table[f.param_name] = value
        if id(f.param) not in seen:
            seen.add(id(f.param))
            attached.append(f.full_name)
    return attached


def _iter_attached(model: nn.Module, attr: str) -> Iterator[tuple[str, nn.Parameter, Any]]:
    seen: set[int] = set()
    for mname, module in model.named_modules():
        table = getattr(module, attr, None)
        if not table:
            continue
        own = dict(module.named_parameters(recurse=False))
        for pname, value in table.items():
            param = own.get(pname)
            if param is None or id(param) in seen:
                continue
            seen.add(id(param))
            yield _full(mname, pname), param, value


def iter_regularized(model: nn.Module) -> Iterator[tuple[str, nn.Parameter, Regularizer]]:
    """Every ``(full name, parameter, regularizer)``; each parameter once, by its first name."""
    yield from _iter_attached(model, REGULARIZERS_ATTR)


def iter_constrained(model: nn.Module) -> Iterator[tuple[str, nn.Parameter, Constraint]]:
    """Every ``(full name, parameter, constraint)``; each parameter once, by its first name."""
    yield from _iter_attached(model, CONSTRAINTS_ATTR)


def _activity_losses(model: nn.Module) -> Iterator[tuple[str, Tensor]]:
    for mname, module in model.named_modules():
        loss = getattr(module, ACTIVITY_ATTR, None)
        if isinstance(loss, Tensor):
            yield _full(mname, ACTIVITY_ATTR), loss


def penalty_breakdown(model: nn.Module) -> dict[str, Tensor]:
    """Each penalty of the model, by name: the share of every term in :func:`regularization_loss`.

    Keys are full parameter names (``"0.weight"``) for weight penalties and
    ``"<module>.activity_loss"`` for activity penalties. Values are 0-d tensors in the graph
    (call ``.item()`` for a number). Proximal-mode L1 parts are not included (they are not part
    of the loss).

    >>> from torch import nn
    >>> from reglab.regularizers import L1
    >>> net = nn.Linear(2, 1)
    >>> _ = nn.init.ones_(net.weight)
    >>> add_regularizer(net, L1(0.5))
    ['weight']
    >>> {k: v.item() for k, v in penalty_breakdown(net).items()}
    {'weight': 1.0}
    """
    out: dict[str, Tensor] = {}
    for name, param, reg in iter_regularized(model):
        out[name] = reg(param)
    for name, loss in _activity_losses(model):
        out[name] = loss
    return out


def regularization_loss(model: nn.Module) -> Tensor:
    """The sum of every attached penalty and every activity loss (a 0-d tensor).

    Add it to the batch-mean data loss before ``backward()``. Each parameter is counted once,
    even when its module is used twice or the parameter is tied under two names. A model
    without penalties gives ``tensor(0.)`` (on the device and dtype of its first parameter).
    """
    terms = list(penalty_breakdown(model).values())
    if not terms:
        first = next(model.parameters(), None)
        if first is None:
            return torch.zeros(())
        return torch.zeros((), device=first.device, dtype=first.dtype)
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total


@torch.no_grad()
def apply_constraints(model: nn.Module) -> list[str]:
    """Project every constrained parameter in place (call after each ``optimizer.step()``).

    Returns:
        The names of the projected parameters.
    """
    names = []
    for name, param, constraint in iter_constrained(model):
        param.copy_(constraint(param))
        names.append(name)
    return names


def clear_regularizers(model: nn.Module) -> None:
    """Remove every attached regularizer (reglab layers' own ones included)."""
    for module in model.modules():
        table = getattr(module, REGULARIZERS_ATTR, None)
        if table:
            table.clear()


def clear_constraints(model: nn.Module) -> None:
    """Remove every attached constraint."""
    for module in model.modules():
        table = getattr(module, CONSTRAINTS_ATTR, None)
        if table:
            table.clear()
