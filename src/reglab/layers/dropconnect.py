"""DropConnect (Wan et al., 2013): a Bernoulli mask on the *weights*, never on the stored ones.

In training, every forward pass uses a fresh weight sample ``W ⊙ M / (1−p)`` with
``M ~ Bernoulli(1−p)`` element-wise (one mask per forward pass, shared by the batch). The
sample is a new tensor computed from the stored parameter, so gradients reach the stored
weight through the mask (``∂L/∂W = ∂L/∂W̃ ⊙ M / (1−p)``) and the parameter itself only ever
changes through the optimizer. At inference DropConnect uses weight scaling: with inverted
scaling the expected weight is ``W`` itself, so evaluation mode simply uses the stored weight.

Two entry points:

* :class:`DropConnectLinear` — an ``nn.Linear`` with DropConnect on its weight;
* :func:`drop_connect` — give any module (``nn.Linear``, convolutions, :class:`Dense`, RNN
  hidden-to-hidden weights, ...) DropConnect on one of its parameters, in place, by a forward
  pre-hook that puts the masked sample in the parameter's slot for the duration of the forward
  pass and a forward hook that puts the parameter back (also when the forward pass raises).
  The module's ``forward`` is untouched, and the parameter stays registered where it was:
  parameter names and ``state_dict`` keys are unchanged (a plain model's weights load into
  it), and regularizers, constraints and optimizers keep acting on the stored weight. (A
  :mod:`torch.nn.utils.parametrize` parametrization would move the parameter to
  ``parametrizations.weight.original``, renaming its ``state_dict`` key and hiding it from
  penalties and constraints attached to ``weight`` by name.)
"""

from __future__ import annotations

from typing import Any, TypeVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reglab._config import Configurable
from reglab._validation import Problems, check_fraction, check_int, message, suggest
from reglab.errors import ConfigError
from reglab.layers import functional as lf
from reglab.layers._noise import uniform

__all__ = ["DropConnectLinear", "drop_connect", "drop_connect_rates", "remove_drop_connect"]

ModuleT = TypeVar("ModuleT", bound=nn.Module)

_RATES = "_reglab_drop_connect"
"""``module.__dict__[_RATES]``: ``{parameter name: (p, generator)}`` of a module given
DropConnect (the single-model trainer seeds the ``None`` generators while it trains)."""
_HOOKS = "_reglab_drop_connect_hooks"
_ACTIVE = "_reglab_drop_connect_active"


class DropConnectLinear(nn.Linear, Configurable):
    """``nn.Linear`` whose weight is DropConnect-masked in training: ``y = x·(W⊙M/(1−p))ᵀ + b``.

    The bias is not masked. In evaluation ``y = x·Wᵀ + b`` (weight scaling). The stored
    ``weight`` is never modified by the mask; ``state_dict`` keys equal ``nn.Linear``'s.

    Args:
        in_features: Size of each input sample.
        out_features: Size of each output sample.
        p: Probability of dropping each weight, a float in [0, 1).
        bias: Whether to learn an additive bias.
        generator: Source of the masks (default: torch's default generator).

    >>> import torch
    >>> layer = DropConnectLinear(3, 2, p=0.5, generator=torch.Generator().manual_seed(0))
    >>> x = torch.ones(1, 3)
    >>> layer.eval()(x).equal(torch.nn.functional.linear(x, layer.weight, layer.bias))
    True
    >>> sorted(layer.state_dict())
    ['bias', 'weight']
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        p: float = 0.5,
        bias: bool = True,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        problems = Problems()
        problems.check(check_int, "DropConnectLinear", "in_features", in_features, minimum=1)
        problems.check(check_int, "DropConnectLinear", "out_features", out_features, minimum=1)
        problems.check(check_fraction, "DropConnectLinear", "p", p)
        if not isinstance(bias, bool):
            problems.add(message("DropConnectLinear", "bias", "a bool", bias))
        problems.raise_if_any()
        super().__init__(in_features, out_features, bias=bias)
        self.p = float(p)
        self.generator = generator

    def get_config(self) -> dict[str, Any]:
        """``in_features``, ``out_features``, ``p`` and ``bias`` (a bool); not the generator."""
        return {
            "in_features": self.in_features,
            "out_features": self.out_features,
            "p": self.p,
            "bias": self.bias is not None,
        }

    def forward(self, x: Tensor) -> Tensor:
        weight = self.weight
        if self.training and self.p > 0.0:
            noise = uniform(tuple(weight.shape), weight, self.generator)
            weight = lf.drop_connect(weight, self.p, noise)
        return F.linear(x, weight, self.bias)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, p={self.p}"


def _swap(module: nn.Module, tensors: dict[str, Tensor]) -> dict[str, Tensor]:
    """Put ``tensors`` in the parameter slots of ``module``; return what they held.

    Like :func:`torch.func.functional_call`, the slot holds the substitute (so ``module.weight``
    returns it during the forward pass). RNNs read a cached list of their weights, which is
    swapped too.
    """
    flat_names: list[str] = list(getattr(module, "_flat_weights_names", []))
    flat: list[Any] | None = getattr(module, "_flat_weights", None)
    originals: dict[str, Tensor] = {}
    for name, tensor in tensors.items():
        originals[name] = module._parameters[name]  # type: ignore[assignment]
        module._parameters[name] = tensor  # type: ignore[assignment]
        if flat is not None and name in flat_names:
            flat[flat_names.index(name)] = tensor
    return originals


def _mask_before_forward(module: nn.Module, args: tuple[Any, ...]) -> None:
    """Forward pre-hook: in training, swap in ``W ⊙ M / (1−p)`` for each DropConnect parameter.

    A nested call of the same module (its forward calling itself) reuses the outer sample.
    """
    state = module.__dict__.get(_ACTIVE)
    if state is not None:
        state[0] += 1
        return
    if not module.training:
        return
    samples: dict[str, Tensor] = {}
    for name, (p, generator) in module.__dict__[_RATES].items():
        weight = module._parameters[name]
        if p > 0.0 and weight is not None:
            noise = uniform(tuple(weight.shape), weight, generator)
            samples[name] = lf.drop_connect(weight, p, noise)
    module.__dict__[_ACTIVE] = [1, _swap(module, samples)]


def _restore_after_forward(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
    """Forward hook, run first and also when the forward pass raises: put the stored
    parameters back."""
    state = module.__dict__.get(_ACTIVE)
    if state is None:
        return
    state[0] -= 1
    if state[0] == 0:
        del module.__dict__[_ACTIVE]
        _swap(module, state[1])


def drop_connect(
    module: ModuleT,
    name: str = "weight",
    p: float = 0.5,
    *,
    generator: torch.Generator | None = None,
) -> ModuleT:
    """Give ``module`` DropConnect on its parameter ``name``, in place, and return it.

    In training mode each forward pass of ``module`` uses ``W ⊙ M / (1−p)`` with a fresh
    Bernoulli(1−p) mask ``M`` in place of the parameter ``W``; gradients flow to ``W`` through
    the mask, and ``W`` itself is never modified. In evaluation mode the stored ``W`` is used
    (weight scaling). Two hooks do it (see the module docstring); ``forward`` is not replaced,
    and the module's parameters, ``state_dict`` keys, other hooks, ``deepcopy`` and
    :func:`torch.func.functional_call` (which then masks the parameters it is given) keep
    working. Calling again for the same ``name`` replaces its rate. Works for modules whose
    ``forward`` reads the parameter attribute (Linear, convolutions, :class:`Dense`, RNNs).
    Concurrent forward passes of one module from several threads are not supported.

    Args:
        module: The module to modify.
        name: A parameter registered directly on ``module`` (not on a child), e.g.
            ``"weight"`` or, for an LSTM, ``"weight_hh_l0"``.
        p: Probability of dropping each element of the parameter, a float in [0, 1).
        generator: Source of the masks (default: torch's default generator).

    Returns:
        ``module`` itself.

    Raises:
        ConfigError: When ``p`` is out of range or ``module`` has no parameter ``name``.

    >>> import torch
    >>> layer = drop_connect(torch.nn.Linear(4, 2), p=0.5)
    >>> before = layer.weight.detach().clone()
    >>> _ = layer(torch.ones(3, 4)).sum().backward()
    >>> layer.weight.equal(before), sorted(layer.state_dict())
    (True, ['bias', 'weight'])
    >>> drop_connect(torch.nn.Linear(4, 2), name="wieght")
    Traceback (most recent call last):
    ...
    reglab.errors.ConfigError: drop_connect: `name` must be a parameter of Linear ('weight', 'bias'); got 'wieght'. Did you mean 'weight'?
    """  # noqa: E501
    if not isinstance(module, nn.Module):
        raise ConfigError(message("drop_connect", "module", "a torch.nn.Module", module))
    problems = Problems()
    rate = problems.check(check_fraction, "drop_connect", "p", p)
    names = [n for n, param in module._parameters.items() if param is not None]
    if name not in names:
        expected = f"a parameter of {type(module).__name__} ({', '.join(map(repr, names))})"
        problems.add(message("drop_connect", "name", expected, name) + suggest(str(name), names))
    problems.raise_if_any()
    if _RATES not in module.__dict__:
        hooks = (
            module.register_forward_pre_hook(_mask_before_forward),
            module.register_forward_hook(_restore_after_forward, prepend=True, always_call=True),
        )
        object.__setattr__(module, _RATES, {})
        object.__setattr__(module, _HOOKS, hooks)
    module.__dict__[_RATES][name] = (rate, generator)
    return module


def remove_drop_connect(module: ModuleT, name: str = "weight") -> ModuleT:
    """Undo :func:`drop_connect` for parameter ``name`` (its hooks are removed when no
    DropConnect parameter is left) and return ``module``.

    >>> import torch
    >>> layer = remove_drop_connect(drop_connect(torch.nn.Linear(4, 2), p=0.5))
    >>> len(layer._forward_pre_hooks), len(layer._forward_hooks), drop_connect_rates(layer)
    (0, 0, {})
    """
    rates: dict[str, Any] = module.__dict__.get(_RATES, {})
    if name not in rates:
        raise ConfigError(
            message("remove_drop_connect", "name", "a parameter with DropConnect", name)
            + suggest(str(name), rates)
        )
    del rates[name]
    if not rates:
        for handle in module.__dict__.pop(_HOOKS):
            handle.remove()
        del module.__dict__[_RATES]
    return module


def drop_connect_rates(module: nn.Module) -> dict[str, float]:
    """The DropConnect rate of each parameter of ``module`` ({} when none).

    >>> import torch
    >>> drop_connect_rates(drop_connect(torch.nn.Linear(2, 2), p=0.3))
    {'weight': 0.3}
    """
    return {name: p for name, (p, _) in module.__dict__.get(_RATES, {}).items()}
