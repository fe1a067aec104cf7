"""The member-batched CNN: conv blocks member by member, the dense head as batched products.

:class:`ConvStack` is a :class:`~reglab.engine.generic.GenericStack` (autograd gives the
gradients) whose forward pass runs the conv blocks of :class:`~reglab.engine.conv.ConvArchitecture`
members. A step's features arrive as columns ``[M, C·H·W, B]`` whose memory is row-major
(:meth:`ConvStack.columns`), so each member's images are a free view ``[B, C, H, W]``. Per block:

    y_i = max_pool(activation(F.conv2d(x_i, K_i, b_i, padding))) · spatial mask_i

and the last block's maps, flattened channel-major, are the dense head's columns
``[M, C'·H'·W', B]`` (``torch.baddbmm`` per layer, as the MLP).

**Why one convolution call per member.** Both member-batched forms were measured
(``benchmarks/cnn_mnist10k.py``: one thread, a batch of 64, the forward and backward pass of
LeNet-5's two conv layers, 1→6@5×5 on 28×28 and 6→16@5×5 on 14×14): for 8 members a grouped
convolution (``F.conv2d`` with ``groups=M`` on ``[B, M·C, H, W]``) took 153 ms,
``torch.func.vmap(F.conv2d)`` 132 ms and one call per member 79 ms (for 4 members: 50, 60 and
37 ms). Neither batched form keeps a member's bits: a member's outputs and kernel gradient
differ in the last bits between a stack of 1 and a stack of 4 or 8 (the same measurement).
One call per member is both the fastest on CPU and, by construction, the member's own
arithmetic.
Activations, pooling and masks run member by member too: on the whole stack at once they
made a LeNet-5 stack of 8 members slower than training the 8 CNNs one after another
(copies of the stacked maps, and maps that no longer stay in the cache).

Penalties and constraints on the conv kernels are applied next to the dense ones (see
:mod:`reglab.engine.conv`): their l1/l2 gradient by
:func:`~reglab.regularizers.functional.add_penalty_grad_`, decoupled weight decay, proximal L1
and max-norm per filter in :meth:`ConvStack._update`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from reglab.engine import backward as bw
from reglab.engine import pointwise as pw
from reglab.engine.bn_refresh import blend_running_
from reglab.engine.conv import ConvShapes, conv_penalized
from reglab.engine.generic import GenericStack
from reglab.regularizers.functional import (
    add_penalty_grad_,
    l1l2_penalty,
    max_norm,
    soft_threshold,
)

__all__ = ["ConvStack"]

_CONV = {1: F.conv1d, 2: F.conv2d}
_POOL = {1: F.max_pool1d, 2: F.max_pool2d}


def _maps(arch: ConvShapes, rows: Tensor) -> Tensor:
    """One member's rows ``[B, in]`` as the first convolution's input ``[B, C, *spatial]``:
    a free view of channel-major images; time-major sequences ``[B, T, F]`` transposed to
    ``[B, F, T]`` as :class:`~reglab.layers.cnn.ChannelsFirst` does."""
    if arch.dims == 1:
        (steps,) = arch.spatial
        return rows.view(rows.shape[0], steps, arch.channels_in).transpose(1, 2).contiguous()
    return rows.view(rows.shape[0], arch.channels_in, *arch.spatial)


class ConvStack(GenericStack):
    """A stack of :class:`~reglab.engine.conv.ConvArchitecture` members (arguments as
    :class:`~reglab.engine.stack.Stack`).

    With batch norm, each conv block's running mean and variance ``[2, M, filters, 1]`` follow
    the dense layers' in :attr:`running`, so snapshots, member selection and the adversarial
    passes keep them as they keep the dense ones.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.n_dense_running = len(self.running)
        if self.batch_norm:
            conv = [
                torch.stack([torch.zeros(self.m, b.filters, 1), torch.ones(self.m, b.filters, 1)])
                for b in self.arch.conv
            ]
            conv = [r.to(self.device) for r in conv]
            if self.best_running is not self.running:
                self.best_running.extend(r.clone() for r in conv)
            self.running.extend(conv)

    def _refresh(self) -> None:
        super()._refresh()
        m, dev = self.m, self.device
        arch: ConvShapes = self.layout.arch  # type: ignore[assignment]
        self.arch = arch
        nd = 2 + arch.dims  # a conv kernel's dimensions after the member's: [filters, in, *k]
        views = self.layout.views(self.theta, m)
        grads = self.layout.views(self.grad, m)
        conv = [j for j, b in enumerate(self.layout.blocks) if b.kind == "conv"]
        self.conv_w = [views[j] for j in conv]
        self.conv_gw = [grads[j] for j in conv]
        self.conv_ranges = [
            (b.start * m, (b.start + b.size) * m) for b in (self.layout.blocks[j] for j in conv)
        ]
        n_conv = len(arch.conv)
        strategies = [mb.strategy for mb in self.members]
        flags = [conv_penalized(s, arch) for s in strategies]

        def column(values: Sequence[float], dims: int) -> Tensor:
            return torch.tensor(list(values), dtype=torch.float32, device=dev).view(m, *[1] * dims)

        # The dense penalties of the base class follow penalized(n_dense); rebuild their
        # per-member switches from the whole network's flags (conv layers first).
        dense_on = [f[n_conv:] for f in flags]
        self.autograd_penalties = [
            (layer, l1 * on, l2 * on)
            for layer, l1, l2 in self.autograd_penalties
            for on in [column([float(d[layer]) for d in dense_on], 0)]
        ]
        self.proximal = [
            (layer, prox * column([float(d[layer]) for d in dense_on], 2))
            for layer, prox in self.proximal
        ]
        mask = torch.tensor(dense_on, dtype=torch.float32, device=dev)
        self.l1_layers = self.l1_layers * mask
        self.l2_layers = self.l2_layers * mask

        proximal = [s.l1_mode == "proximal" for s in strategies]
        self.conv_penalties: list[tuple[int, Tensor, Tensor]] = []
        self.conv_proximal: list[tuple[int, Tensor]] = []
        self.conv_l1l2: list[tuple[int, Tensor, Tensor]] = []
        for i in range(n_conv):
            on = [f[i] for f in flags]
            l1 = [
                s.one("l1") if o and not p else 0.0
                for s, o, p in zip(strategies, on, proximal, strict=True)
            ]
            l2 = [s.one("l2") if o else 0.0 for s, o in zip(strategies, on, strict=True)]
            prox = [
                mb.lr * mb.strategy.one("l1") if o and p else 0.0
                for mb, o, p in zip(self.members, on, proximal, strict=True)
            ]
            if any(l1) or any(l2):
                self.conv_penalties.append((i, column(l1, nd), column(l2, nd)))
            if any(prox):
                self.conv_proximal.append((i, column(prox, nd)))
            both = [s.one("l1") if o else 0.0 for s, o in zip(strategies, on, strict=True)]
            self.conv_l1l2.append((i, column(both, 0), column(l2, 0)))
        self.conv_max_norm = self.has_max_norm.view(m, *[1] * nd)
        self.filter_dims = tuple(range(2, 2 + nd - 1))  # one norm per filter: in·∏k
        # The optimizer step scales every block by the members' [M, 1, 1] learning rates:
        # give it every block as [M, 1, size] (views of the same memory).
        self.all_views = [v.reshape(m, 1, -1) for v in self.all_views]
        self.direction_views = [v.reshape(m, 1, -1) for v in self.direction_views]

    def use_threads(self, m: int) -> None:
        """One thread, whatever ``num_threads`` asks. With two threads for a stack of three
        and one for a member alone, the member's weights differed after one epoch (measured
        on MNIST); with one thread they are the same bits (``tests/engine/test_conv.py``)."""
        super().use_threads(1)

    # -- the forward passes ----------------------------------------------------------------

    def columns(self, h: Tensor) -> Tensor:
        """Features ``[M, F, B]`` whose memory is ``[M, B, F]`` (each member's images are a
        contiguous ``[B, C, H, W]`` view, its sequences a ``[B, T, F]`` one)."""
        return h.transpose(1, 2).contiguous().transpose(1, 2)

    def _features(
        self,
        params: dict[str, list[Tensor]],
        h: Tensor,
        noise: Sequence[Tensor] | None,
        weight: Tensor | None = None,
        running: Sequence[Tensor] | None = None,
    ) -> Tensor:
        """The conv blocks: pixels ``[M, C·H·W, B]`` (or time-major sequences ``[M, T·F, B]``)
        → the dense head's columns ``[M, F', B]``. With batch norm, a training pass
        (``running`` None) normalizes by the batch's statistics (row weights ``weight``
        ``[M, 1, B]``) and updates the running ones; an evaluation normalizes by
        ``running``, the conv blocks' ``[2, m, filters, 1]``."""
        arch, m = self.arch, h.shape[0]  # evaluation may take a subset of the members
        x = h.transpose(1, 2).contiguous()
        images = [_maps(arch, x[j]) for j in range(m)]
        conv, pool = _CONV[arch.dims], _POOL[arch.dims]
        spots = (None,) * arch.dims
        kernels = [w.unbind(0) for w in params["conv"]]
        biases = [b.unbind(0) for b in params["conv_bias"]]
        gammas = [g.unbind(0) for g in params.get("conv_gamma", [])]
        betas = [b.unbind(0) for b in params.get("conv_beta", [])]
        masks: list[Sequence[Tensor] | None] = []
        for i in range(len(arch.conv)):
            idx = None if noise is None else self.place_of.get(("spatial", i))
            masks.append(None if idx is None or noise is None else
                         noise[idx].transpose(1, 2)[(..., *spots)].unbind(0))  # fmt: skip
        features = []
        for j in range(m):  # member by member: each one's own calls, its maps stay in cache
            y = images[j]
            for i, block in enumerate(arch.conv):
                y = conv(y, kernels[i][j], biases[i][j], padding=block.padding)
                if gammas and running is None:
                    w = None if weight is None else weight[j]
                    y = self._batch_norm_train(i, j, y, gammas[i][j], betas[i][j], w)
                elif gammas and running is not None:
                    mean, var = running[i][:, j].reshape(2, 1, -1, *[1] * arch.dims)
                    gamma, beta = gammas[i][j].view_as(mean), betas[i][j].view_as(mean)
                    y = (y - mean) * torch.rsqrt(var + bw.BN_EPS) * gamma + beta
                y = pw.activation(self.activation, y)
                if block.pool > 1:
                    y = pool(y, block.pool)
                mask = masks[i]
                if mask is not None:
                    y = y * mask[j]
            features.append(y.flatten(1))
        return torch.stack(features).transpose(1, 2).contiguous()

    def _batch_norm_train(
        self, i: int, j: int, y: Tensor, gamma: Tensor, beta: Tensor, w: Tensor | None
    ) -> Tensor:
        """Member ``j``'s conv block ``i`` in training: ``γ·(y − μ)/sqrt(σ² + ε) + β`` per
        channel, ``μ`` and the biased ``σ²`` over its rows (weighted by ``w`` ``[1, B]``) and
        positions, as ``nn.BatchNorm1d``/``2d`` compute them; the running statistics move by
        ``BN_MOMENTUM`` towards ``μ`` and the unbiased variance ``σ²·n/(n − 1)`` (``n`` rows
        × positions)."""
        dims = tuple(range(2, y.dim()))
        shape = (1, -1, *[1] * len(dims))
        per_row = y.mean(dims)  # [B, C]
        mean = per_row.mean(0) if w is None else (w.view(-1, 1) * per_row).sum(0)
        centred = y - mean.view(shape)
        square = (centred * centred).mean(dims)
        var = square.mean(0) if w is None else (w.view(-1, 1) * square).sum(0)
        out = centred * torch.rsqrt(var + bw.BN_EPS).view(shape) * gamma.view(shape)
        out = out + beta.view(shape)
        rows = y.shape[0] if w is None else int((w > 0).sum())
        n = rows * math.prod(y.shape[2:])
        stats = self.running[self.n_dense_running + i]
        with torch.no_grad():
            unbiased = var.view(-1, 1) * (n / max(n - 1, 1))
            factor = getattr(self, "_bn_factor", None)  # a recomputation pass (bn_refresh)
            if factor is not None:
                blend_running_(stats[:, j], mean.view(-1, 1), unbiased, factor[j])
                return out
            stats[0, j].mul_(1 - bw.BN_MOMENTUM).add_(mean.view(-1, 1), alpha=bw.BN_MOMENTUM)
            stats[1, j].mul_(1 - bw.BN_MOMENTUM).add_(unbiased, alpha=bw.BN_MOMENTUM)
        return out

    def train_forward(
        self,
        params: dict[str, list[Tensor]],
        h: Tensor,
        noise: Sequence[Tensor],
        weight: Tensor | None,
    ) -> tuple[Tensor, list[Tensor]]:
        """Training outputs ``[M, out, B]`` and the dense hidden blocks' outputs: input noise
        on the pixels, the conv blocks with spatial dropout, then the dense head with
        DropConnect, dropout and the registry's hidden noise."""
        w_all, b_all = params["kernel"], params["bias"]
        place_of = self.place_of
        h = self._perturb("input-noise", h)
        idx = place_of.get(("input", 0))
        if idx is not None:
            h = h * noise[idx]
        h = self._features(params, h, noise, weight)
        gammas, betas = params.get("gamma", []), params.get("beta", [])
        hidden = []
        for layer in range(self.n_hidden):
            w = w_all[layer]
            idx = place_of.get(("connect", layer))
            if idx is not None:
                w = w * noise[idx]
            z = torch.baddbmm(b_all[layer], w, h)
            if self.batch_norm and self.bn_first:
                z, _, _, mean, var = bw.batch_norm_train(z, gammas[layer], betas[layer], weight)
                self._update_running(layer, mean.detach(), var.detach(), weight)
            out = pw.activation(self.activation, z)
            if self.batch_norm and not self.bn_first:
                out, _, _, mean, var = bw.batch_norm_train(out, gammas[layer], betas[layer], weight)
                self._update_running(layer, mean.detach(), var.detach(), weight)
            hidden.append(out)
            out = self._perturb("hidden-noise", out)
            idx = place_of.get(("hidden", layer))
            if idx is not None:
                out = out * noise[idx]
            h = out
        return torch.baddbmm(b_all[-1], w_all[-1], h), hidden

    def eval_forward(
        self, params: dict[str, list[Tensor]], running: Sequence[Tensor], h: Tensor
    ) -> Tensor:
        """Evaluation outputs ``[m, out, R]``: no noise, batch norm's running statistics."""
        conv_running = running[self.n_dense_running :] if self.batch_norm else None
        features = self._features(params, h, None, running=conv_running)
        return super().eval_forward(params, running, features)

    def export(self, index: int, *, best: bool) -> dict[str, np.ndarray]:
        """Member ``index``'s weights, the conv blocks' running statistics as ``conv_bn{i}``."""
        state = super().export(index, best=best)
        for i in range(len(self.arch.conv) if self.batch_norm else 0):
            for part in ("running_mean", "running_var", "num_batches_tracked"):
                state[f"conv_bn{i}.{part}"] = state.pop(f"bn{self.n_dense_running + i}.{part}")
        return state

    # -- the update of the conv kernels ------------------------------------------------------

    def _update(self) -> None:
        for i, l1, l2 in self.conv_penalties:
            add_penalty_grad_(self.conv_gw[i], self.conv_w[i], l1, l2)
        if self.decay is not None:  # kernels only, as reglab.fit
            for w in self.conv_w:
                w.mul_(self.decay.view(-1, *[1] * (w.dim() - 1)))
        super()._update()
        for i, prox in self.conv_proximal:
            w = self.conv_w[i]
            pre = self.opt.preconditioner(*self.conv_ranges[i])
            threshold = prox if pre is None else prox / pre.view_as(w)
            w.copy_(soft_threshold(w, threshold))
        if self.any_max_norm:
            for w in self.conv_w:
                projected = max_norm(w, self.max_norm, dim=self.filter_dims)
                if not self.all_max_norm:
                    projected = torch.where(self.conv_max_norm, projected, w)
                w.copy_(projected)

    def penalty(self) -> np.ndarray:
        """The dense and conv kernels' penalties (and the registry techniques')."""
        total = super().penalty()
        conv = torch.zeros(self.m, device=self.device)
        for i, l1, l2 in self.conv_l1l2:
            conv += l1l2_penalty(self.conv_w[i], l1, l2)
        return total + conv.cpu().numpy().astype(np.float64)
