"""A stack: M members of one architecture as one member-batched MLP, trained step by step.

A mini-batch is ``[M, B, features]``, gathered in one indexing operation from every member's
own rows; each Dense layer is one ``torch.baddbmm`` over the member dimension. The backward
pass is written out by hand (:mod:`reglab.engine.backward`), gradients land in one flat buffer
(:mod:`reglab.engine.layout`), penalties enter the gradient directly through
:func:`~reglab.regularizers.functional.add_penalty_grad_`, and one optimizer update
(:class:`~reglab.engine.optim.FlatOptimizer`) moves every member. The regularizers are the
functional core's: :func:`~reglab.layers.functional.dropout_mask` and
:func:`~reglab.layers.functional.gaussian_dropout` for dropout and DropConnect,
:func:`~reglab.regularizers.functional.soft_threshold` for proximal L1,
:func:`~reglab.regularizers.functional.max_norm` for the max-norm constraint.

Per member, one training step does (Keras semantics, DESIGN §1)::

    loss_i = mean over its batch rows of the data loss   (CE, BCE, or MSE on standardized y)
    g      = ∇ loss_i + l1·sign(W) + 2·l2·W               (penalty-mode kernels only)
    W      ← W·(1 − lr·wd);  θ ← optimizer step           (decoupled decay of kernels first)
    W      ← soft_threshold(W, lr·l1 [/ (sqrt(v̂)+ε)])     (proximal-mode kernels)
    W      ← max_norm(W, c) per output unit               (every kernel, members with c > 0)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch
from torch import Tensor

from reglab.engine import backward as bw
from reglab.engine import pointwise as pw
from reglab.engine.layout import StackLayout
from reglab.engine.optim import FlatOptimizer
from reglab.engine.spec import MemberSpec
from reglab.engine.streams import NoisePlace
from reglab.regularizers.functional import (
    add_penalty_grad_,
    l1l2_penalty,
    max_norm,
    soft_threshold,
)

__all__ = ["EVAL_ROWS", "Stack"]

EVAL_ROWS = 256
"""Rows per evaluation forward pass (:meth:`Stack.outputs`)."""


class Stack:
    """The trainable state of M members sharing an architecture, batch size and optimizer.

    Args:
        members: The members, in stack order.
        layout: Their shared parameter layout.
        data: ``[N, F + T]`` rows of every split the members use: ``F`` features, then the
            target (one-hot ``C`` columns for multiclass, one column otherwise).
        params: Initial flat parameters (:meth:`StackLayout.stack`).
        places: Where noise is drawn (:func:`~reglab.engine.streams.noise_places`).
        y_stats: For regression, each member's training mean and standard deviation ``[M, 2]``.
        keep_best: Keep a copy of each member's best weights (early stopping).
        threads: CPU threads for the stack's operations (``None``: leave torch's setting).
            At most one thread per member is used (:meth:`use_threads`).
    """

    def __init__(
        self,
        members: Sequence[MemberSpec],
        layout: StackLayout,
        data: Tensor,
        params: Tensor,
        places: Sequence[NoisePlace],
        y_stats: np.ndarray | None,
        *,
        keep_best: bool,
        threads: int | None = None,
    ) -> None:
        arch = members[0].arch
        self.layout = layout
        self.data = data
        self.device = data.device
        self.features = arch.in_features
        self.task = arch.task
        self.activation = arch.activation
        self.batch_norm = arch.batch_norm
        self.bn_first = arch.block_order == "bn-act-drop"
        self.n_hidden = len(arch.hidden)
        self.batch = members[0].batch_size
        self.places = list(places)
        self.members = list(members)
        self.m = len(members)
        self.threads = threads
        self.theta = params
        self.grad = torch.zeros_like(params)
        self.running = (  # [mean, var] of every hidden layer: [2, M, h, 1]
            [
                torch.stack([torch.zeros(self.m, h, 1), torch.ones(self.m, h, 1)]).to(self.device)
                for h in arch.hidden
            ]
            if self.batch_norm
            else []
        )
        self.keep_best = keep_best
        self.eval_slots: list[int] | None = None
        """The stack positions of the members an evaluation runs on, when not all."""
        self.best = params.clone() if keep_best else params
        self.best_running = [r.clone() for r in self.running] if keep_best else self.running
        self.y_stats = y_stats
        self.t = 0  # optimizer steps taken; equal for every member of a stack (plan.py)
        self.loss_acc = torch.zeros(self.m, arch.out_features, self.batch, device=self.device)
        self._batch_n = torch.tensor(float(self.batch), device=self.device)
        self.opt = FlatOptimizer(members[0].train.optimizer, params.numel(), self.device)
        self._refresh()
        self.use_threads(self.m)

    # -- per-member coefficients -------------------------------------------------------------

    def _per_layer(self, name: str) -> Tensor:
        """``[M, L]``: each member's ``l1``/``l2`` on the Dense layers its strategy penalizes,
        else 0 (:meth:`Strategy.kernel_values`)."""
        n_layers = self.layout.n_layers
        rows = [list(mb.strategy.kernel_values(name, n_layers)) for mb in self.members]
        return torch.tensor(rows, dtype=torch.float32, device=self.device)

    @property
    def lr(self) -> Tensor:
        """Each member's learning rate ``[M, 1, 1]``."""
        return self._lr

    @lr.setter
    def lr(self, value: Tensor) -> None:
        # Rates set from outside (a schedule, step by step) may differ per member: the shared
        # single update is off until set_members decides again.
        self._lr = value
        self.lr_shared: Tensor | None = None
        self.lr_shared_value: float | None = None

    def set_members(self, members: Sequence[MemberSpec]) -> None:
        """Train on with ``members``' strategies (the same members, their strengths in effect
        this epoch: :mod:`reglab.engine.strengths`); rebuilds the per-member coefficients."""
        self.members = list(members)
        self._refresh()

    def _refresh(self) -> None:
        """Rebuild views and per-member coefficient tensors for the current members."""
        m, layout, dev = self.m, self.layout, self.device
        views = layout.views(self.theta, m)
        grads = layout.views(self.grad, m)
        by_kind: dict[str, list[int]] = {}
        for j, b in enumerate(layout.blocks):
            by_kind.setdefault(b.kind, []).append(j)
        self.W = [views[j] for j in by_kind["kernel"]]
        self.b = [views[j] for j in by_kind["bias"]]
        self.gW = [grads[j] for j in by_kind["kernel"]]
        self.gb = [grads[j] for j in by_kind["bias"]]
        self.gamma = [views[j] for j in by_kind.get("gamma", [])]
        self.beta = [views[j] for j in by_kind.get("beta", [])]
        self.ggamma = [grads[j] for j in by_kind.get("gamma", [])]
        self.gbeta = [grads[j] for j in by_kind.get("beta", [])]
        params = [j for j, b in enumerate(layout.blocks) if b.kind != "pad"]
        self.all_views = [views[j] for j in params]
        # SGD's direction is the gradient (Adam moves the weights in place: optim.py).
        self.direction_views = [grads[j] for j in params]
        # Every block but the padding is the prefix of the flat buffers: one operation
        # moves all of them when the members share a learning rate (the same arithmetic).
        n = layout.n_params * m
        self.flat_params, self.flat_direction = self.theta[:n], self.grad[:n]

        # Per-member coefficients as [M, 1, 1] columns, broadcast over each block: no
        # per-element coefficient arrays to stream through the caches every step.
        def column(values: Sequence[float]) -> Tensor:
            return torch.tensor(list(values), dtype=torch.float32, device=dev).view(m, 1, 1)

        strategies = [mb.strategy for mb in self.members]
        n_layers = layout.n_layers
        l1_of = [s.kernel_values("l1", n_layers) for s in strategies]
        l2_of = [s.kernel_values("l2", n_layers) for s in strategies]
        proximal = [s.l1_mode == "proximal" for s in strategies]
        lrs = [mb.lr for mb in self.members]
        self.lr = column(lrs)
        # the members' one rate, for a single update over the flat buffer (None: they differ)
        if len(set(lrs)) == 1:
            self.lr_shared = self.lr.view(-1)[0]
            self.lr_shared_value = float(self.lr_shared)  # the float32 rate, as a Python float
        wd = [s.weight_decay for s in strategies]
        self.decay = column([1 - r * d for r, d in zip(lrs, wd, strict=True)]) if any(wd) else None
        self.penalties: list[tuple[int, Tensor, Tensor]] = []
        self.proximal: list[tuple[int, Tensor]] = []
        for layer in range(n_layers):
            l1 = [a[layer] if not p else 0.0 for a, p in zip(l1_of, proximal, strict=True)]
            l2 = [b[layer] for b in l2_of]
            prox = [
                r * a[layer] if p else 0.0 for r, a, p in zip(lrs, l1_of, proximal, strict=True)
            ]
            if any(l1) or any(l2):
                self.penalties.append((layer, column(l1), column(l2)))
            if any(prox):
                self.proximal.append((layer, column(prox)))
        # sign(W) of each penalized kernel, written every step into the same memory
        self.sign_scratch = {layer: torch.empty_like(self.W[layer]) for layer, *_ in self.penalties}
        self.l1_layers = self._per_layer("l1")
        self.l2_layers = self._per_layer("l2")
        kernel_blocks = [b for b in layout.blocks if b.kind == "kernel"]
        self.kernel_ranges = [(b.start * m, (b.start + b.size) * m) for b in kernel_blocks]
        # Max-norm bounds per kernel: (c [M], members with c > 0 [M, 1, 1], all of them > 0);
        # None for a kernel no member bounds.
        bounds = [s.kernel_values("max_norm", n_layers) for s in strategies]
        self.max_norms: list[tuple[Tensor, Tensor, bool] | None] = []
        for layer in range(n_layers):
            mn = [b[layer] for b in bounds]
            c = torch.tensor(mn, dtype=torch.float32, device=dev)
            on = any(v > 0 for v in mn)
            self.max_norms.append(
                (c, (c > 0).view(m, 1, 1), all(v > 0 for v in mn)) if on else None
            )
        self.any_max_norm = any(b is not None for b in self.max_norms)
        # One bound per member, for families whose members have one (per-layer bounds are
        # multilayer perceptrons' only: engine/_checks.py).
        one = [b[0] for b in bounds]
        self.max_norm = torch.tensor(one, dtype=torch.float32, device=dev)
        self.all_max_norm = all(v > 0 for v in one)
        self.has_max_norm = (self.max_norm > 0).view(m, 1, 1)

        self.place_of = {(p.kind, p.layer): i for i, p in enumerate(self.places)}
        # Per noise place, the stack positions [lo, hi) from the first to the last member
        # that draws noise there (its rate in effect > 0): the others' multipliers are 1
        # (streams.py), and x·1 = x, so a hidden block's mask multiplies only that span.
        self.noise_span: list[tuple[int, int]] = []
        for place in self.places:
            if place.kind != "hidden":  # (other kinds multiply every member)
                self.noise_span.append((0, m))
                continue
            drawing = [i for i, mb in enumerate(self.members) if place.rate(mb) > 0]
            self.noise_span.append((drawing[0], drawing[-1] + 1) if drawing else (0, 0))
        if self.y_stats is not None:
            mean = torch.tensor(self.y_stats[:, 0], dtype=torch.float32, device=dev)
            std = torch.tensor(self.y_stats[:, 1], dtype=torch.float32, device=dev)
            self.y_scale = (1.0 / std).view(m, 1, 1)
            self.y_shift = (-mean / std).view(m, 1, 1)
        self._member_of: Tensor | None = None  # made when first needed (member_of)

    @property
    def member_of(self) -> Tensor:
        """For each element of the flat buffers, its member's stack position (made when
        first needed: a stack whose members share their rate and keep no best copy never
        needs it)."""
        if self._member_of is None:
            self._member_of = self.layout.member_of(self.m, self.device)
        return self._member_of

    def use_threads(self, m: int) -> None:
        """Set torch's CPU threads for operations on ``m`` members: ``min(threads, m)``.

        With at least one member per thread, torch splits a batched matrix product by whole
        matrices and a reduction by whole outputs, and element-wise kernels give the same bits
        on any share of the elements (:mod:`reglab.engine.pointwise`), so each member's
        arithmetic is the one-thread arithmetic whatever the stack's size. With fewer members
        than threads MKL would split single matrices between threads and change their rounding.
        """
        if self.threads is None:
            return
        n = max(1, min(self.threads, m))
        if torch.get_num_threads() != n:
            torch.set_num_threads(n)

    # -- training ----------------------------------------------------------------------------

    def train_step(self, rows: Tensor, noise: Sequence[Tensor], weight: Tensor | None) -> None:
        """One optimizer step of every member on its own mini-batch.

        Activations are columns, ``[M, units, B]``: each layer is ``z = W·h + b`` with the
        kernel ``[M, out, in]``, and the softmax runs over dimension 1 (a softmax over a short
        last dimension is many times slower).

        Args:
            rows: ``[M·B]`` this step's data rows of every member.
            noise: This step's multipliers, one ``[M, *shape]`` tensor per noise place.
            weight: Row weights ``[M, 1, B]`` (``1/count``, 0 on padding), or ``None`` when
                every member has a full batch.
        """
        m, f = self.m, self.features
        self.use_threads(m)
        batch = self.data.index_select(0, rows).view(m, self.batch, -1).transpose(1, 2)
        h, target = batch[:, :f], batch[:, f:]  # [M, F, B] and [M, T, B], views
        place_of, act, bn_on, bn_first = (
            self.place_of,
            self.activation,
            self.batch_norm,
            self.bn_first,
        )
        idx = place_of.get(("input", 0))
        if idx is not None:
            h = h * noise[idx]
        cache = []
        for layer in range(self.n_hidden):
            w = self.W[layer]
            idx = place_of.get(("connect", layer))
            connect = None
            if idx is not None:
                connect = noise[idx]
                w = w * connect
            z = torch.baddbmm(self.b[layer], w, h)
            bn = None
            pre = z
            if bn_on and bn_first:
                pre, z_hat, rstd, mean, var = bw.batch_norm_train(
                    z, self.gamma[layer], self.beta[layer], weight
                )
                self._update_running(layer, mean, var, weight)
                bn = (z_hat, rstd)
            out = pw.activation(act, pre)
            post = out if act in pw.SAVES_OUTPUT else None
            nxt = out
            if bn_on and not bn_first:
                nxt, z_hat, rstd, mean, var = bw.batch_norm_train(
                    out, self.gamma[layer], self.beta[layer], weight
                )
                self._update_running(layer, mean, var, weight)
                bn = (z_hat, rstd)
            idx = place_of.get(("hidden", layer))
            mask, lo, hi = None, 0, 0
            if idx is not None:
                lo, hi = self.noise_span[idx]
                mask = noise[idx][lo:hi]
                if nxt is post:  # kept for the backward pass: a new tensor
                    nxt = nxt * noise[idx]
                else:
                    nxt[lo:hi].mul_(mask)
            cache.append((h, w, connect, pre, post, bn, mask, lo, hi))
            h = nxt
        out_layer = self.n_hidden
        logits = torch.baddbmm(self.b[out_layer], self.W[out_layer], h)
        d = self._loss_grad(logits, target, weight)
        torch.bmm(d, h.transpose(1, 2), out=self.gW[out_layer])
        torch.sum(d, 2, keepdim=True, out=self.gb[out_layer])
        w_next = self.W[out_layer]
        for layer in reversed(range(self.n_hidden)):
            h_in, w, connect, pre, post, bn, mask, lo, hi = cache[layer]
            d = torch.bmm(w_next.transpose(1, 2), d)
            if mask is not None:
                d[lo:hi].mul_(mask)
            if bn is not None and not bn_first:
                d = bw.batch_norm_backward(
                    d,
                    *bn,
                    self.gamma[layer],
                    weight,
                    grad_gamma=self.ggamma[layer],
                    grad_beta=self.gbeta[layer],
                )
            d = pw.activation_backward(act, d, pre, post if post is not None else pre)
            if bn is not None and bn_first:
                d = bw.batch_norm_backward(
                    d,
                    *bn,
                    self.gamma[layer],
                    weight,
                    grad_gamma=self.ggamma[layer],
                    grad_beta=self.gbeta[layer],
                )
            torch.bmm(d, h_in.transpose(1, 2), out=self.gW[layer])
            if connect is not None:
                self.gW[layer].mul_(connect)
            torch.sum(d, 2, keepdim=True, out=self.gb[layer])
            w_next = w
        self._update()

    def begin_epoch(self) -> None:
        """Called before an epoch's first step (the generic backend's weight averaging)."""

    def end_epoch(self, epoch: int) -> None:
        """Called after epoch ``epoch``'s last step, before it is evaluated."""

    def _loss_grad(self, out: Tensor, target: Tensor, weight: Tensor | None) -> Tensor:
        """Accumulate each member's batch-mean data loss; return its gradient w.r.t. ``out``.

        ``out`` and ``target`` are ``[M, outputs, B]``; the loss of every element goes into
        ``self.loss_acc`` (summed per member by :meth:`epoch_loss`).
        """
        scale = 1.0 / self.batch
        acc = self.loss_acc
        if self.task == "multiclass":
            logp = torch.log_softmax(out, 1)
            d = logp.exp()
            if weight is None:
                acc.addcmul_(logp, target, value=-scale)
                return d.sub_(target).mul_(scale)
            tw = target * weight
            acc.addcmul_(logp, tw, value=-1.0)
            return d.mul_(weight).sub_(tw)
        if self.task == "binary":
            d = pw.sigmoid(out).sub_(target)
            row = pw.softplus(out).sub_(out * target)
        else:
            d = out - torch.addcmul(self.y_shift, target, self.y_scale)
            row = d * d
            d.mul_(2.0)
        if weight is None:
            acc.add_(row, alpha=scale)
            return d.mul_(scale)
        acc.addcmul_(row, weight)
        return d.mul_(weight)

    def epoch_loss(self) -> np.ndarray:
        """Each member's summed batch losses since the last call (then reset)."""
        total = self.loss_acc.sum((1, 2)).cpu().numpy().astype(np.float64)
        self.loss_acc.zero_()
        return total

    def _update_running(self, layer: int, mean: Tensor, var: Tensor, weight: Tensor | None) -> None:
        n = self._batch_n if weight is None else (weight > 0).sum(2, keepdim=True).to(var.dtype)
        unbiased = var * (n / torch.clamp(n - 1, min=1.0))
        running = self.running[layer]
        running[0].mul_(1 - bw.BN_MOMENTUM).add_(mean, alpha=bw.BN_MOMENTUM)
        running[1].mul_(1 - bw.BN_MOMENTUM).add_(unbiased, alpha=bw.BN_MOMENTUM)

    def _update(self) -> None:
        """Penalty gradients, optimizer step, proximal L1 and max-norm for every member."""
        for layer, l1, l2 in self.penalties:
            scratch = self.sign_scratch[layer]
            add_penalty_grad_(self.gW[layer], self.W[layer], l1, l2, scratch=scratch)
        self.t += 1
        if self.decay is not None:  # kernels only, as reglab.fit (not biases, not batch norm)
            for w in self.W:
                w.mul_(self.decay)
        if self.opt.adam:
            self.opt.adam_step_(
                self.theta, self.grad, self.t, self.lr, lambda: self.member_of, self.lr_shared_value
            )
        elif self.lr_shared is not None:  # w − g·lr element by element, as per block
            self.flat_params.addcmul_(self.flat_direction, self.lr_shared, value=-1.0)
        else:
            for view, direction in zip(self.all_views, self.direction_views, strict=True):
                view.addcmul_(direction, self.lr, value=-1.0)
        for layer, prox in self.proximal:
            w = self.W[layer]
            pre = self.opt.preconditioner(*self.kernel_ranges[layer])
            threshold = prox if pre is None else prox / pre.view_as(w)
            w.copy_(soft_threshold(w, threshold))
        if self.any_max_norm:
            for w, bound in zip(self.W, self.max_norms, strict=True):
                if bound is None:
                    continue
                c, has, every = bound
                projected = max_norm(w, c, dim=2)
                if not every:
                    projected = torch.where(has, projected, w)
                w.copy_(projected)

    # -- evaluation --------------------------------------------------------------------------

    def penalty(self) -> np.ndarray:
        """Each member's penalty ``Σ_l l1·Σ|W_l| + l2·ΣW_l²`` at the current weights."""
        total = torch.zeros(self.m, device=self.device)
        for layer, w in enumerate(self.W):
            total += l1l2_penalty(w, self.l1_layers[:, layer], self.l2_layers[:, layer])
        return total.cpu().numpy().astype(np.float64)

    @contextmanager
    def evaluating(self, slots: Sequence[int] | None) -> Iterator[None]:
        """Within it, :meth:`eval_forward` runs on the members at stack positions ``slots``
        (all members for ``None``): per-member settings are taken for those members only."""
        self.eval_slots = None if slots is None else list(slots)
        try:
            yield
        finally:
            self.eval_slots = None

    def outputs(self, rows: Tensor, *, best: bool, slots: Sequence[int] | None = None) -> Tensor:
        """Evaluation-mode outputs ``[m, R, out]`` for rows ``[m, R]`` (no noise, running BN).

        The rows go through in chunks of exactly :data:`EVAL_ROWS` (the last one padded with
        copies of the first row): a matrix product's kernel, and so its rounding, depends on
        the number of columns, so every product has the same number whatever ``R`` is (which
        depends on the other members' row counts).

        Args:
            rows: Data rows of each evaluated member.
            best: Use the best (early-stopping) weights instead of the current ones.
            slots: Evaluate only these members (``rows`` then has one row per slot).

        Regression outputs are in each member's standardized units.
        """
        n_rows = rows.shape[1]
        short = -n_rows % EVAL_ROWS
        if short:
            rows = torch.cat([rows, rows[:, :1].expand(-1, short)], dim=1)
        theta = self.best if best else self.theta
        running = self.best_running if best else self.running
        m = self.m
        if slots is not None:
            keep = torch.tensor(list(slots), dtype=torch.long, device=self.device)
            theta = self.layout.select(theta, m, keep)
            running = [r.index_select(1, keep) for r in running]
            m = len(slots)
        self.use_threads(m)
        params = self.by_kind_views(self.layout.views(theta, m))
        # One output buffer, filled chunk by chunk: no small results kept between the
        # chunks' temporaries, which would fragment the heap (measured: RSS grew by a
        # chunk's temporaries per chunk).
        result = torch.empty(m, rows.shape[1], self.layout.arch.out_features, device=self.device)
        with torch.no_grad(), self.evaluating(slots):
            for start in range(0, rows.shape[1], EVAL_ROWS):
                r = rows[:, start : start + EVAL_ROWS]
                h = self.data.index_select(0, r.reshape(-1)).view(m, r.shape[1], -1)
                h = self.columns(h[..., : self.features].transpose(1, 2))
                out = self.eval_forward(params, running, h)
                result[:, start : start + EVAL_ROWS].copy_(out.transpose(1, 2))
        return result[:, :n_rows]

    def columns(self, h: Tensor) -> Tensor:
        """The evaluation features ``[m, F, R]`` as :meth:`eval_forward` gets them."""
        return h

    def by_kind_views(self, views: Sequence[Tensor]) -> dict[str, list[Tensor]]:
        """The layout's block views grouped by kind, each list in layer order."""
        out: dict[str, list[Tensor]] = {}
        for view, block in zip(views, self.layout.blocks, strict=True):
            out.setdefault(block.kind, []).append(view)
        return out

    def eval_forward(
        self, params: dict[str, list[Tensor]], running: Sequence[Tensor], h: Tensor
    ) -> Tensor:
        """Evaluation-mode outputs ``[m, out, R]`` of features ``h`` ``[m, F, R]`` (no noise,
        batch norm's running statistics); ``params`` as from :meth:`by_kind_views`."""
        w_views, b_views = params["kernel"], params["bias"]
        g_views, s_views = params.get("gamma", []), params.get("beta", [])
        for layer in range(self.n_hidden):
            z = torch.baddbmm(b_views[layer], w_views[layer], h)
            if self.batch_norm and self.bn_first:
                z = self._bn_eval(z, running[layer], g_views[layer], s_views[layer])
            h = pw.activation(self.activation, z)
            if self.batch_norm and not self.bn_first:
                h = self._bn_eval(h, running[layer], g_views[layer], s_views[layer])
        return torch.baddbmm(b_views[-1], w_views[-1], h)

    @staticmethod
    def _bn_eval(z: Tensor, running: Tensor, gamma: Tensor, beta: Tensor) -> Tensor:
        return torch.addcmul(beta, (z - running[0]) * torch.rsqrt(running[1] + bw.BN_EPS), gamma)

    # -- bookkeeping -------------------------------------------------------------------------

    def snapshot(self, improved: np.ndarray) -> None:
        """Copy the current weights of the members flagged ``improved`` to their best copy."""
        if not self.keep_best or not improved.any():
            return
        flag = torch.from_numpy(improved).to(self.device)
        self.best.copy_(torch.where(flag[self.member_of], self.theta, self.best))
        for best, now in zip(self.best_running, self.running, strict=True):
            best.copy_(torch.where(flag.view(1, -1, 1, 1), now, best))

    def finite(self) -> np.ndarray:
        """Which members have only finite parameters."""
        if bool(torch.isfinite(self.theta).all()):  # the usual case: one pass, no per-member work
            return np.ones(self.m, dtype=bool)
        bad = torch.zeros(self.m, dtype=torch.bool, device=self.device)
        for view in self.layout.views(self.theta, self.m):
            bad |= ~torch.isfinite(view).reshape(self.m, -1).all(1)
        return ~bad.cpu().numpy()

    def export(self, index: int, *, best: bool) -> dict[str, np.ndarray]:
        """Member ``index``'s weights as an :class:`~reglab.layers.MLP` ``state_dict``."""
        theta = self.best if best else self.theta
        state = self.layout.unstack(theta, self.m, index)
        running = self.best_running if best else self.running
        for layer, r in enumerate(running):
            state[f"bn{layer}.running_mean"] = r[0, index].reshape(-1).cpu().numpy().copy()
            state[f"bn{layer}.running_var"] = r[1, index].reshape(-1).cpu().numpy().copy()
            state[f"bn{layer}.num_batches_tracked"] = np.array(self.t, dtype=np.int64)
        return state

    def select(self, keep: Sequence[int]) -> None:
        """Keep only the members at positions ``keep`` (the others stop costing compute)."""
        keep_t = torch.tensor(list(keep), dtype=torch.long, device=self.device)
        old_m = self.m
        self.members = [self.members[i] for i in keep]
        self.m = len(self.members)
        self.theta = self.layout.select(self.theta, old_m, keep_t)
        self.grad = torch.zeros_like(self.theta)
        state = [self.layout.select(s, old_m, keep_t) for s in self.opt.state()]
        self.running = [r.index_select(1, keep_t) for r in self.running]
        if self.keep_best:
            self.best = self.layout.select(self.best, old_m, keep_t)
            self.best_running = [r.index_select(1, keep_t) for r in self.best_running]
        else:
            self.best, self.best_running = self.theta, self.running
        if self.y_stats is not None:
            self.y_stats = self.y_stats[list(keep)]
        self.loss_acc = self.loss_acc.index_select(0, keep_t)
        self.opt.load(state)
        self._refresh()
