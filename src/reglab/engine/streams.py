"""Each member's own randomness, and the plan of one epoch for a whole stack.

Every member owns three independent streams derived from its seed alone (DESIGN "Independence"):

* ``init`` — a NumPy generator for the initial weights (:meth:`StackLayout.initial`);
* ``order`` — a CPU ``torch.Generator``; epoch ``t`` visits the member's training rows in the
  order ``torch.randperm(n_train, generator=order)`` (the ``t``-th call), in mini-batches of
  :attr:`MemberSpec.batch_size` rows (the configured size, at most ``n_train``), the last one
  possibly smaller (with batch norm, a last mini-batch of one row is skipped);
* ``noise`` — a NumPy generator for dropout and DropConnect noise. Each epoch it draws, in
  this order and only for the places where the member's own rate is > 0: the input noise
  ``[steps, in, B]``, the noise of every hidden block ``[steps, h_l, B]``, then DropConnect
  noise for every hidden kernel ``[steps, out_l, in_l]`` (one kernel mask per mini-batch).
  Standard dropout and DropConnect use uniform noise in [0, 1), Gaussian dropout standard
  normal noise (float32).

Because nothing is drawn for, or shared with, other members, a member's batches and masks are
the same whether it trains alone, in any stack, or in any chunk.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from reglab._seeding import derive, generator, torch_generator
from reglab.engine.spec import MemberSpec
from reglab.layers.functional import dropout_mask, gaussian_dropout

__all__ = [
    "EpochPlan",
    "MemberStreams",
    "NoisePlace",
    "batch_pattern",
    "noise_places",
    "stream_seeds",
]

_ONE = torch.ones(())


def stream_seeds(seed: int) -> dict[str, int]:
    """The seeds of a member's ``init``, ``order`` and ``noise`` streams.

    >>> sorted(stream_seeds(0))
    ['init', 'noise', 'order']
    >>> stream_seeds(0) == stream_seeds(0) and stream_seeds(0) != stream_seeds(1)
    True
    """
    return {name: derive(seed, "engine", name) for name in ("init", "order", "noise")}


@dataclass(frozen=True)
class NoisePlace:
    """A place where a stack draws noise.

    Attributes:
        kind: ``"input"``, ``"hidden"`` (after hidden block ``layer``) or ``"connect"``
            (DropConnect on the kernel of hidden layer ``layer``).
        layer: Hidden layer index (0 for the input).
        shape: Noise shape per member and step: ``(units, B)`` (the stack's column layout) or
            the kernel's ``(out, in)``.
    """

    kind: str
    layer: int
    shape: tuple[int, ...]

    def rate(self, member: MemberSpec) -> float:
        """The member's rate at this place (0 when it draws nothing here)."""
        s = member.strategy
        if self.kind == "input":
            return float(s.input_dropout)
        if self.kind == "hidden":
            return float(s.dropout_rates(len(member.arch.hidden))[self.layer])
        return float(s.layer_values("drop_connect", len(member.arch.hidden))[self.layer])

    def gaussian(self, member: MemberSpec) -> bool:
        """Whether the member draws standard-normal (Gaussian dropout) noise here."""
        return self.kind != "connect" and member.strategy.dropout_kind == "gaussian"


def noise_places(members: Sequence[MemberSpec]) -> list[NoisePlace]:
    """The places where at least one of ``members`` (one architecture) needs noise, in order.

    Each model family says where (:meth:`~reglab.engine.family.ModelFamily.noise_places`).
    """
    from reglab.engine.family import family_of

    return family_of(members[0].arch).noise_places(members)


def dense_noise_places(members: Sequence[MemberSpec]) -> list[NoisePlace]:
    """An MLP's noise places: input dropout, dropout after each hidden block, DropConnect on
    each hidden kernel (those at least one of ``members`` uses)."""
    arch = members[0].arch
    batch = members[0].batch_size
    sizes = arch.layer_sizes
    candidates = [NoisePlace("input", 0, (arch.in_features, batch))]
    candidates += [NoisePlace("hidden", i, (h, batch)) for i, h in enumerate(arch.hidden)]
    candidates += [
        NoisePlace("connect", i, (sizes[i + 1], sizes[i])) for i in range(len(arch.hidden))
    ]
    return [p for p in candidates if any(p.rate(m) > 0 for m in members)]


def batch_pattern(member: MemberSpec) -> tuple[int, int]:
    """``(steps, last)``: mini-batches per epoch and the size of the last one.

    With batch norm a last mini-batch of a single row is skipped (its batch statistics are
    undefined), as :func:`reglab.fit` does.

    >>> from reglab.engine.spec import Architecture, Strategy, TrainConfig
    >>> idx = np.arange(70)
    >>> spec = MemberSpec(Architecture(2, 2), Strategy(), TrainConfig(batch_size=32),
    ...                   idx, idx[:0], idx[:0])
    >>> batch_pattern(spec)
    (3, 6)
    """
    n, b = len(member.train_idx), member.batch_size
    steps = max(1, math.ceil(n / b))
    last = n - b * (steps - 1)
    if member.arch.batch_norm and steps > 1 and last == 1:
        steps, last = steps - 1, b
    return steps, last


@dataclass
class EpochPlan:
    """Everything one epoch of a stack needs, drawn up front.

    Attributes:
        rows: ``[S, M·B]`` data rows of every step (padding rows repeat a real row).
        counts: ``[M, S]`` number of real rows of each member in each step.
        weights: ``[S, M, 1, B]`` row weights ``1/count`` (0 for padding); ``None`` when every
            step is full for every member.
        full: Per step, whether every member has ``B`` real rows.
        noise: One ``[S, M, *shape]`` tensor per :func:`noise_places` entry: the multiplier
            of each element, ``dropout_mask(u, p)`` (standard dropout, DropConnect) or
            ``gaussian_dropout(1, p, z)`` (Gaussian dropout) of the member's own noise, and 1
            where the member's rate is 0.
    """

    rows: Tensor
    counts: np.ndarray
    weights: Tensor | None
    full: list[bool]
    noise: list[Tensor] = field(default_factory=list)

    @property
    def steps(self) -> int:
        return int(self.counts.shape[1])

    def select(self, keep: Sequence[int]) -> EpochPlan:
        """The plan of the members at positions ``keep`` only (copies, not views)."""
        steps, m = self.rows.shape[0], self.counts.shape[0]
        batch = self.rows.shape[1] // m
        index = torch.tensor(list(keep), dtype=torch.long, device=self.rows.device)
        counts = self.counts[list(keep)]
        return EpochPlan(
            rows=self.rows.view(steps, m, batch).index_select(1, index).reshape(steps, -1),
            counts=counts,
            weights=None if self.weights is None else self.weights.index_select(1, index),
            full=[bool(np.all(counts[:, t] == batch)) for t in range(steps)],
            noise=[n.index_select(1, index) for n in self.noise],
        )


class MemberStreams:
    """The random streams of the members of one stack, and the buffers their epochs fill.

    Args:
        members: The stack's members (one architecture, batch size and batch pattern).
        train_rows: Each member's training rows, as row numbers of the stack's data.
        device: Where the plans' tensors go.
    """

    def __init__(
        self,
        members: Sequence[MemberSpec],
        train_rows: Sequence[np.ndarray],
        device: torch.device,
    ) -> None:
        self.device = device
        self.batch = members[0].batch_size
        self.places = noise_places(members)
        self.members = list(members)
        self.train_rows = [np.asarray(r, dtype=np.int64) for r in train_rows]
        seeds = [stream_seeds(m.seed) for m in members]
        self.order = [torch_generator(s["order"]) for s in seeds]
        self.noise = [generator(s["noise"]) for s in seeds]
        self._sets: list[list[np.ndarray]] = []
        self._turn = 0
        self._key: tuple[int, int] = (-1, -1)

    def steps(self, index: int) -> int:
        """Mini-batches per epoch of member ``index`` (see :func:`batch_pattern`)."""
        return batch_pattern(self.members[index])[0]

    def select(self, keep: Sequence[int]) -> None:
        """Keep only the members at positions ``keep`` (their streams continue unchanged)."""
        self.members = [self.members[i] for i in keep]
        self.train_rows = [self.train_rows[i] for i in keep]
        self.order = [self.order[i] for i in keep]
        self.noise = [self.noise[i] for i in keep]
        self._key = (-1, -1)

    def _noise_buffers(self, m: int, s: int) -> list[np.ndarray]:
        # [S, M, *shape]: one step's multipliers of all members are contiguous. Two sets used
        # in turn, so the next epoch can be drawn while this one trains. Members that draw
        # nothing at a place keep the neutral 1 there.
        if self._key != (m, s):
            self._sets = [
                [np.ones((s, m, *p.shape), dtype=np.float32) for p in self.places] for _ in range(2)
            ]
            self._key = (m, s)
        self._turn = 1 - self._turn
        return self._sets[self._turn]

    def epoch(self, in_effect: Sequence[MemberSpec] | None = None) -> EpochPlan:
        """Draw the next epoch's batches and noise for every member.

        ``in_effect``: the members with their strengths in effect in that epoch (scheduled
        strengths, :mod:`reglab.engine.strengths`); their rates shape the masks. A member
        whose rate at a place is 0 in this epoch gets the neutral 1 there.
        """
        m, b = len(self.members), self.batch
        rated = self.members if in_effect is None else list(in_effect)
        steps = [self.steps(i) for i in range(m)]
        s_max = max(steps)
        rows = np.empty((m, s_max * b), dtype=np.int64)
        counts = np.zeros((m, s_max), dtype=np.int64)
        for i in range(m):
            n = len(self.train_rows[i])
            perm = torch.randperm(n, generator=self.order[i]).numpy()
            used = min(n, steps[i] * b)  # a skipped single-row batch is not used
            rows[i, :used] = self.train_rows[i][perm[:used]]
            rows[i, used:] = rows[i, 0]
            counts[i, : steps[i]] = np.clip(n - b * np.arange(steps[i]), 0, b)
        rows_t = torch.from_numpy(rows.reshape(m, s_max, b).transpose(1, 0, 2).copy())
        rows_t = rows_t.view(s_max, m * b).to(self.device)
        full = [bool(np.all(counts[:, s] == b)) for s in range(s_max)]
        weights = None
        if not all(full):
            valid = np.arange(b)[None, None, :] < counts[:, :, None]  # [M, S, B]
            w = valid / np.maximum(counts, 1)[:, :, None]
            weights = torch.from_numpy(
                w.transpose(1, 0, 2)[:, :, None, :].astype(np.float32).copy()
            ).to(self.device)
        buffers = self._noise_buffers(m, s_max)
        slots = [torch.from_numpy(buf) for buf in buffers]
        scratch: dict[tuple[int, ...], np.ndarray] = {}
        for i, member in enumerate(rated):
            rng = self.noise[i]
            for place, slot in zip(self.places, slots, strict=True):
                rate = place.rate(member)
                if rate <= 0:
                    if in_effect is not None:  # the buffer may hold an earlier epoch's draw
                        slot[:, i].fill_(1.0)
                    continue
                shape = (steps[i], *place.shape)
                drawn = scratch.get(shape)
                if drawn is None:
                    drawn = scratch[shape] = np.empty(shape, dtype=np.float32)
                noise = torch.from_numpy(drawn)
                if place.gaussian(member):
                    rng.standard_normal(out=drawn, dtype=np.float32)
                    gaussian_dropout(_ONE, rate, noise, out=slot[: steps[i], i])
                else:
                    rng.random(out=drawn, dtype=np.float32)
                    dropout_mask(noise, rate, out=slot[: steps[i], i])
        return EpochPlan(
            rows=rows_t,
            counts=counts,
            weights=weights,
            full=full,
            noise=[torch.from_numpy(buf).to(self.device) for buf in buffers],
        )
