"""The member-batched LSTM/GRU: one batched product per layer and time step for all members.

:class:`RecurrentStack` is a :class:`~reglab.engine.generic.GenericStack` (autograd gives the
gradients) whose forward pass runs the recurrent layers of
:class:`~reglab.engine.rnn.RecurrentArchitecture` members with
:func:`~reglab.layers.recurrent.recurrent_sequence`. A step's features arrive as columns
``[M, T·F, B]`` (time-major), viewed as ``[M, F, T, B]``; per layer, the inputs of every step
go through ``W_ih`` in one ``torch.baddbmm``, then each time step is one ``torch.baddbmm`` of
the members' ``W_hh`` ``[M, G·H, H]`` with their states ``[M, H, B]`` and the cell's
element-wise maths. The output layer reads the last layer's state after the last step::

    out_i = W_out,i · (h_T,i ⊙ m_out,i) + b_out,i

Every product is batched over members only, and every other operation is element-wise, so no
operation reduces across members. Like the CNN stack, it computes on one thread: a batched
product split between threads by whole members still rounds a member's product as a single
thread does, but a stack of one member would be split inside the matrix.

Update rules beside the optimizer's (:meth:`RecurrentStack._update`): the l1/l2 gradient of
the recurrent kernels (``W_ih`` and ``W_hh`` of the flagged layers) by
:func:`~reglab.regularizers.functional.add_penalty_grad_`, then ``grad-clip`` (each member's
gradient scaled to norm at most ``c``), then decoupled weight decay of the recurrent kernels;
after the optimizer step, max-norm of every kernel row.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from reglab.engine.generic import GenericStack
from reglab.engine.rnn import RecurrentArchitecture, grad_clip_norm, recurrent_penalized
from reglab.layers.recurrent import affine, recurrent_sequence
from reglab.regularizers.functional import add_penalty_grad_, l1l2_penalty, max_norm

__all__ = ["RecurrentStack"]

CLIP_EPS = 1e-6
"""Added to the gradient norm before dividing (``torch.nn.utils.clip_grad_norm_``'s)."""


class RecurrentStack(GenericStack):
    """A stack of :class:`~reglab.engine.rnn.RecurrentArchitecture` members (arguments as
    :class:`~reglab.engine.stack.Stack`)."""

    def _refresh(self) -> None:
        super()._refresh()
        m, dev = self.m, self.device
        arch: RecurrentArchitecture = self.layout.arch  # type: ignore[assignment]
        self.arch = arch
        views = self.layout.views(self.theta, m)
        grads = self.layout.views(self.grad, m)
        blocks = self.layout.blocks
        kernels = [j for j, b in enumerate(blocks) if b.kind in ("rnn_ih", "rnn_hh")]
        self.rnn_w = [views[j] for j in kernels]
        self.rnn_gw = [grads[j] for j in kernels]
        self.rnn_layer = [blocks[j].layer for j in kernels]
        self.grad_views = [g.reshape(m, -1) for g in grads]
        n_rnn = len(arch.units)
        strategies = [mb.strategy for mb in self.members]
        flags = [recurrent_penalized(s, arch) for s in strategies]

        def column(values: Sequence[float], dims: int) -> Tensor:
            return torch.tensor(list(values), dtype=torch.float32, device=dev).view(m, *[1] * dims)

        # The output layer's penalty (the base class's) follows the whole network's flags.
        out_on = column([float(f[n_rnn]) for f in flags], 0)
        self.autograd_penalties = [
            (layer, l1 * out_on, l2 * out_on) for layer, l1, l2 in self.autograd_penalties
        ]
        mask = torch.tensor([f[n_rnn:] for f in flags], dtype=torch.float32, device=dev)
        self.l1_layers = self.l1_layers * mask
        self.l2_layers = self.l2_layers * mask
        self.rnn_penalties: list[tuple[int, Tensor, Tensor]] = []
        for i in range(n_rnn):
            l1 = [s.one("l1") if f[i] else 0.0 for s, f in zip(strategies, flags, strict=True)]
            l2 = [s.one("l2") if f[i] else 0.0 for s, f in zip(strategies, flags, strict=True)]
            self.rnn_penalties.append((i, column(l1, 2), column(l2, 2)))
        self.any_rnn_penalty = any(bool(l1.any() or l2.any()) for _, l1, l2 in self.rnn_penalties)
        clip = [grad_clip_norm(s) for s in strategies]
        self.clip = column(clip, 1) if any(c > 0 for c in clip) else None

    def use_threads(self, m: int) -> None:
        """One thread, whatever ``num_threads`` asks (see the module docstring)."""
        super().use_threads(1)

    # -- the forward passes ----------------------------------------------------------------

    def _sequence(self, h: Tensor) -> Tensor:
        """Columns ``[M, T·F, B]`` → the first layer's inputs ``[M, F, T, B]``."""
        arch = self.arch
        return h.view(h.shape[0], arch.steps, arch.features, h.shape[2]).permute(0, 2, 1, 3)

    def _recurrence(
        self, params: dict[str, list[Tensor]], h: Tensor, noise: Sequence[Tensor] | None
    ) -> Tensor:
        """Every recurrent layer; returns the last layer's outputs ``[M, H, T, B]`` (output
        dropout of the last layer not applied)."""
        x = self._sequence(h)
        last = len(self.arch.units) - 1
        for i in range(last + 1):
            masks: dict[str, Tensor | None] = {}
            for kind in ("recurrent", "weightdrop", "output"):
                idx = None if noise is None else self.place_of.get((kind, i))
                masks[kind] = None if idx is None or noise is None else noise[idx]
            x = recurrent_sequence(
                self.arch.cell,
                x,
                params["rnn_ih"][i],
                params["rnn_bias_ih"][i],
                params["rnn_hh"][i],
                params["rnn_bias_hh"][i],
                recurrent_mask=masks["recurrent"],
                kernel_mask=masks["weightdrop"],
            )
            out_mask = masks["output"]
            if out_mask is not None and i < last:
                x = x * out_mask.unsqueeze(2)
        return x

    def train_forward(
        self,
        params: dict[str, list[Tensor]],
        h: Tensor,
        noise: Sequence[Tensor],
        weight: Tensor | None,
    ) -> tuple[Tensor, list[Tensor]]:
        """Training outputs ``[M, out, B]`` and the last state ``[M, H, B]`` (the "hidden
        block" registry techniques see): input noise and input dropout, the recurrent layers
        with their masks, the registry's hidden noise and output dropout on the last state."""
        h = self._perturb("input-noise", h)
        idx = self.place_of.get(("input", 0))
        if idx is not None:
            h = h * noise[idx]
        state = self._recurrence(params, h, noise)[:, :, -1]
        hidden = [state]
        state = self._perturb("hidden-noise", state)
        idx = self.place_of.get(("output", len(self.arch.units) - 1))
        if idx is not None:
            state = state * noise[idx]
        return affine(params["bias"][-1], params["kernel"][-1], state), hidden

    def eval_forward(
        self, params: dict[str, list[Tensor]], running: Sequence[Tensor], h: Tensor
    ) -> Tensor:
        """Evaluation outputs ``[m, out, R]``: no noise."""
        state = self._recurrence(params, h, None)[:, :, -1]
        return affine(params["bias"][-1], params["kernel"][-1], state)

    # -- the update ----------------------------------------------------------------------------

    def _update(self) -> None:
        if self.any_rnn_penalty:
            for w, g, layer in zip(self.rnn_w, self.rnn_gw, self.rnn_layer, strict=True):
                _, l1, l2 = self.rnn_penalties[layer]
                add_penalty_grad_(g, w, l1, l2)
        if self.clip is not None:
            total = torch.zeros(self.m, 1, device=self.device)
            for g in self.grad_views:
                total += g.pow(2).sum(1, keepdim=True)
            norm = total.sqrt()
            scale = torch.where(
                self.clip > 0,
                torch.clamp(self.clip / (norm + CLIP_EPS), max=1.0),
                torch.ones_like(norm),
            )
            for g in self.grad_views:
                g.mul_(scale)
        if self.decay is not None:  # kernels only, as reglab.fit
            for w in self.rnn_w:
                w.mul_(self.decay)
        super()._update()
        if self.any_max_norm:  # one norm per row: a gate unit's incoming weights
            for w in self.rnn_w:
                projected = max_norm(w, self.max_norm, dim=2)
                if not self.all_max_norm:
                    projected = torch.where(self.has_max_norm, projected, w)
                w.copy_(projected)

    def penalty(self) -> np.ndarray:
        """The output and recurrent kernels' penalties (and the registry techniques')."""
        total = super().penalty()
        extra = torch.zeros(self.m, device=self.device)
        for w, layer in zip(self.rnn_w, self.rnn_layer, strict=True):
            _, l1, l2 = self.rnn_penalties[layer]
            extra += l1l2_penalty(w, l1.view(-1), l2.view(-1))
        return total + extra.cpu().numpy().astype(np.float64)
