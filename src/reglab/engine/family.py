"""Model families: what the engine needs to know about a kind of network to train it as stacks.

A family is one :class:`ModelFamily` object registered for its architecture class. The engine
asks the family of a member's architecture for

* ``layout(arch)``: the parameter layout, a :class:`~reglab.engine.layout.StackLayout` (which
  blocks, their shapes and each one's initialization);
* ``stack_class(generic)``: the stack that trains it: the fused hand-written one when the family
  has one (``fused_stack``), else its generic stack, whose forward pass autograd differentiates
  (a :class:`~reglab.engine.generic.GenericStack` subclass overriding ``train_forward`` and
  ``eval_forward``);
* ``noise_places(members)``: where per-member noise (dropout, DropConnect) is drawn;
* ``problems(member)``: the strategy terms it cannot train (refused before training);
* ``export(arch, strategy)``: the plain single ``torch.nn.Module`` equal to one member, whose
  ``state_dict`` names are the layout's block names;
* ``member_bytes(member)``: the memory one member adds to a stack (the planner's estimate).

Today's multilayer perceptron is :data:`MLP_FAMILY`. A convolutional or recurrent family is a new
architecture dataclass (with ``in_features``, ``out_features``, ``task``, ``batch_norm`` and the
fields its stack reads), a layout, a generic stack and an export, registered with
:func:`register_family`; nothing outside its own files changes. ``docs/architecture.md`` shows
one built in a test.

>>> from reglab.engine.spec import Architecture
>>> family_of(Architecture(4, 2)).name
'mlp'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from reglab.engine.spec import Architecture
from reglab.errors import ConfigError

if TYPE_CHECKING:
    from torch import nn

    from reglab.engine.layout import StackLayout
    from reglab.engine.spec import MemberSpec, Strategy
    from reglab.engine.stack import Stack
    from reglab.engine.streams import NoisePlace

__all__ = ["MLP_FAMILY", "ModelFamily", "family_of", "register_family", "unregister_family"]


class ModelFamily:
    """A kind of network the engine trains as stacks (see the module docstring).

    Subclass it, set :attr:`name` and :attr:`architecture`, override what differs from the
    multilayer perceptron, and register an instance with :func:`register_family`.
    """

    name: ClassVar[str] = ""
    architecture: ClassVar[type] = object
    fused: ClassVar[bool] = False
    """Whether the family has a hand-written fused stack (only the MLP has one)."""

    def layout(self, arch: Any) -> StackLayout:
        from reglab.engine.layout import StackLayout

        return StackLayout(arch)

    def stack_class(self, generic: bool) -> type[Stack]:
        """The stack class that trains this family's members."""
        from reglab.engine.generic import GenericStack
        from reglab.engine.stack import Stack

        return Stack if self.fused and not generic else GenericStack

    def problems(self, member: MemberSpec) -> list[str]:
        """The terms of the member's strategy this family cannot train, one phrase each
        (``"`maxnorm` (why)"``); :func:`~reglab.engine.train_members` refuses them."""
        return []

    def noise_places(self, members: Sequence[MemberSpec]) -> list[NoisePlace]:
        from reglab.engine.streams import dense_noise_places

        return dense_noise_places(members)

    def initial_weights(self, member: MemberSpec) -> dict[str, np.ndarray]:
        """The member's initial weights as its exported module's ``state_dict``."""
        from reglab._seeding import generator
        from reglab.engine.parametrize import parametrized
        from reglab.engine.streams import stream_seeds

        layout = parametrized(self.layout(member.arch), member.strategy)
        flat = layout.stack([layout.initial(generator(stream_seeds(member.seed)["init"]))], "cpu")
        return layout.unstack(flat, 1, 0)

    def weight_summary(self, arch: Any, weights: dict[str, np.ndarray]) -> tuple[Any, ...]:
        """``(sparsity, near_zero, weight_hist, feature_norms)`` of a member's weights (default:
        the dense kernels', :func:`~reglab.engine.result.weight_summary`)."""
        from reglab.engine.result import weight_summary

        return weight_summary(arch, weights)

    def first_filters(self, arch: Any, weights: dict[str, np.ndarray]) -> np.ndarray | None:
        """A few first-layer filters of a member's weights, for the report (default: none; the
        CNN family's first conv filters)."""
        return None

    def export(self, arch: Any, strategy: Strategy) -> nn.Module:
        raise NotImplementedError(f"{type(self).__name__} has no single-model export")

    def member_bytes(self, member: MemberSpec) -> int:
        from reglab.engine.parametrize import parametrized
        from reglab.engine.plan import dense_member_bytes

        return dense_member_bytes(member, parametrized(self.layout(member.arch), member.strategy))


class _MLPFamily(ModelFamily):
    """The multilayer perceptron (:class:`~reglab.engine.spec.Architecture`)."""

    name = "mlp"
    architecture = Architecture
    fused = True

    def initial_weights(self, member: MemberSpec) -> dict[str, np.ndarray]:
        state = super().initial_weights(member)
        for i, h in enumerate(member.arch.hidden if member.arch.batch_norm else ()):
            state[f"bn{i}.running_mean"] = np.zeros(h, dtype=np.float32)
            state[f"bn{i}.running_var"] = np.ones(h, dtype=np.float32)
            state[f"bn{i}.num_batches_tracked"] = np.array(0, dtype=np.int64)
        return state

    def export(self, arch: Any, strategy: Strategy) -> nn.Module:
        from reglab.engine.export import single_model

        return single_model(arch, strategy)


_FAMILIES: dict[type, ModelFamily] = {}


def register_family(family: ModelFamily, *, replace: bool = False) -> ModelFamily:
    """Register ``family`` for its architecture class (and that class's subclasses)."""
    who = f"register_family({type(family).__name__})"
    if not isinstance(family, ModelFamily) or not family.name:
        raise ConfigError(f"{who}: `family` must be a ModelFamily with a name; got {family!r}.")
    arch = family.architecture
    taken = _FAMILIES.get(arch)
    if taken is not None and taken is not family and not replace:
        raise ConfigError(
            f"{who}: `architecture` must be free; got {arch.__name__}, taken by {taken.name!r}."
        )
    _FAMILIES[arch] = family
    return family


def unregister_family(family: ModelFamily) -> None:
    """Remove a family (tests that register their own)."""
    for arch, registered in list(_FAMILIES.items()):
        if registered is family:
            del _FAMILIES[arch]


def family_of(arch: Any) -> ModelFamily:
    """The family registered for ``type(arch)`` (the nearest registered base class)."""
    for cls in type(arch).__mro__:
        if cls in _FAMILIES:
            return _FAMILIES[cls]
    known = ", ".join(sorted(f.name for f in _FAMILIES.values()))
    raise ConfigError(
        f"train_members: `arch` must be the architecture of a registered model family "
        f"({known}); got {type(arch).__name__}."
    )


MLP_FAMILY = register_family(_MLPFamily())
"""The multilayer perceptron family: the fused stack, the generic one and
:func:`~reglab.engine.export.single_model`."""
