"""The generic member-batched backend: the stack's forward maths, backward by autograd.

:class:`GenericStack` keeps everything of :class:`~reglab.engine.stack.Stack` but the
hand-written backward pass: the parameters live in the same flat buffer
(:mod:`reglab.engine.layout`), and every step takes them as one leaf tensor, runs the
member-batched forward pass with ``torch.baddbmm`` and lets autograd find the gradient of

    Σ_i [ batch-mean data loss_i + l1_i·Σ|W| + l2_i·ΣW² + Σ_t penalty_t,i ]

Each member's loss depends only on its own parameters and rows, so the gradient of the sum is
each member's own gradient: no operation reduces across members. The optimizer step, decoupled
weight decay, proximal L1 and max-norm are the stack's (:meth:`Stack._update`), which only
ever combine a member's elements with its own state. Built-in noise (dropout, Gaussian
dropout, DropConnect) is the same :class:`~reglab.engine.streams.MemberStreams` plan the fused
path uses, so the two paths agree to float rounding (``tests/engine/test_generic.py``).

Registry techniques (:mod:`reglab.techniques`) act through their member-batched class methods.
Their noise comes from each member's own generator per technique,
``derive(member seed, "technique", key)``, drawn step by step in a fixed order (input, then
hidden blocks in order): a member's draws depend on its seed and step only, never on its
position in the stack or its neighbours. Members that do not use a technique draw nothing for
it and get its "off" values.

A parametrization technique (``sparse-vd``, ``learned-dropout``) replaces every Dense layer's
product in training by its own sampled layer (:meth:`Technique.dense`, with standard-normal
noise ``[M, out, B]`` per layer and step from the member's stream), adds each member's
``β·Σ_layers KL / N`` to its loss (``N`` its training rows, ``β`` the KL warm-up's weight,
:func:`~reglab.layers.variational.kl_per_example`), and gives evaluation, and the exported
weights, its :meth:`Technique.eval_kernel`. Its extra tensors are blocks of the layout
(:mod:`reglab.engine.parametrize`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from reglab._seeding import derive, generator
from reglab.engine import backward as bw
from reglab.engine import pointwise as pw
from reglab.engine.layout import StackLayout
from reglab.engine.spec import MemberSpec
from reglab.engine.stack import Stack
from reglab.engine.streams import NoisePlace, batch_pattern
from reglab.layers.variational import kl_per_example, kl_warmup
from reglab.regularizers.functional import l1l2_penalty
from reglab.techniques import Batch, Technique, get

__all__ = ["GenericStack", "needs_generic"]


def needs_generic(member: MemberSpec) -> bool:
    """Whether the member uses a technique without a fused form, or a model family without
    a fused stack."""
    from reglab.engine.family import family_of

    if not family_of(member.arch).fused:
        return True
    return any(not get(c.key).fused for c in member.strategy.techniques)


class _Active:
    """One registry technique in a stack: its class, per-member values ``[M]``, who uses it."""

    def __init__(self, cls: type[Technique], members: Sequence[MemberSpec], device: Any) -> None:
        self.cls = cls
        configs = [
            next((c.values for c in m.strategy.techniques if c.key == cls.key), None)
            for m in members
        ]
        self.values = {
            q.name: torch.tensor(
                [q.off if c is None else c[q.name] for c in configs],
                dtype=torch.float32,
                device=device,
            )
            for q in cls.params
        }
        self.on = [c is not None and any(c[q.name] != q.off for q in cls.params) for c in configs]
        self.on_column = torch.tensor(self.on, device=device).view(-1, 1, 1)
        self.extra_names: tuple[str, ...] = ()
        if cls.acts_on == "parametrization":  # every member of its stack uses it (stack_key)
            first = next(c for c in configs if c is not None)
            self.extra_names = tuple(cls.extra_params(first, (1, 1)))


class GenericStack(Stack):
    """A :class:`Stack` whose gradients come from autograd, with registry techniques.

    Takes the arguments of :class:`Stack`.
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
        super().__init__(
            members, layout, data, params, places, y_stats, keep_best=keep_best, threads=threads
        )
        self._rngs = [
            {c.key: generator(derive(m.seed, "technique", c.key)) for c in m.strategy.techniques}
            for m in members
        ]
        self._tech_penalty = torch.zeros(self.m, device=self.device)
        self._tech_steps = 0

    def _refresh(self) -> None:
        super()._refresh()
        # l1/l2 enter the loss and are differentiated by autograd, not added by hand.
        self.autograd_penalties = [
            (layer, l1.view(-1), l2.view(-1)) for layer, l1, l2 in self.penalties
        ]
        self.penalties = []
        keys = sorted(
            {c.key for m in self.members for c in m.strategy.techniques},
            key=lambda k: (get(k).order, k),
        )
        active = [_Active(get(k), self.members, self.device) for k in keys]
        self.by_kind: dict[str, list[_Active]] = {}
        for a in active:
            if any(a.on):
                self.by_kind.setdefault(a.cls.acts_on, []).append(a)
        self._uniform = torch.full((self.m, 1, self.batch), 1.0 / self.batch, device=self.device)
        self.n_train = torch.tensor(
            [float(len(m.train_idx)) for m in self.members], device=self.device
        )
        self.epoch_steps = torch.tensor(
            [float(batch_pattern(m)[0]) for m in self.members], device=self.device
        )
        self.parametrization = self.by_kind.get("parametrization", [])

    def _extra(self, a: _Active, params: dict[str, list[Tensor]], layer: int) -> dict[str, Tensor]:
        """The parametrization's extra tensors of Dense layer ``layer`` (the output last)."""
        return {name: params[name][layer] for name in a.extra_names}

    def _dense(self, params: dict[str, list[Tensor]], layer: int, w: Tensor, h: Tensor) -> Tensor:
        """Dense layer ``layer``'s training-mode pre-activations ``[M, out, B]``."""
        b = params["bias"][layer]
        for a in self.parametrization:
            noise = self._draw(a, (w.shape[1], h.shape[2]))
            return a.cls.dense(h, w, b, self._extra(a, params, layer), noise, a.values)
        return torch.baddbmm(b, w, h)

    def _eval_params(self, params: dict[str, list[Tensor]]) -> dict[str, list[Tensor]]:
        """``params`` with the kernels evaluation uses (a parametrization's pruning)."""
        for a in self.parametrization:
            kernels = [
                a.cls.eval_kernel(w, self._extra(a, params, layer), a.values)
                for layer, w in enumerate(params["kernel"])
            ]
            params = {**params, "kernel": kernels}
        return params

    def _draw(self, a: _Active, shape: tuple[int, ...]) -> Tensor:
        """``[M, *shape]`` noise: each member's own draw, zeros for members without it."""
        out = np.zeros((self.m, *shape), dtype=np.float32)
        for i, on in enumerate(a.on):
            if on:
                out[i] = a.cls.draw(self._rngs[i][a.cls.key], shape)
        return torch.from_numpy(out).to(self.device)

    def _perturb(self, kind: str, h: Tensor) -> Tensor:
        for a in self.by_kind.get(kind, ()):
            h = a.cls.perturb(h, self._draw(a, tuple(h.shape[1:])), a.values)
        return h

    def train_step(self, rows: Tensor, noise: Sequence[Tensor], weight: Tensor | None) -> None:
        """One optimizer step of every member (arguments as :meth:`Stack.train_step`)."""
        m, f = self.m, self.features
        self.use_threads(m)
        leaf = self.theta.detach().requires_grad_()
        params = self.by_kind_views(self.layout.views(leaf, m))
        batch = self.data.index_select(0, rows).view(m, self.batch, -1).transpose(1, 2)
        h, target = self.columns(batch[:, :f]), batch[:, f:]
        logits, hidden = self.train_forward(params, h, noise, weight)
        w_all, b_all = params["kernel"], params["bias"]
        row_weight = self._uniform if weight is None else weight
        loss = self._data_loss(logits, target, row_weight)
        for layer, l1, l2 in self.autograd_penalties:
            loss = loss + l1l2_penalty(w_all[layer], l1, l2)
        penalties = self.by_kind.get("penalty", ())
        if penalties or self.parametrization:
            step = Batch(w_all, b_all, hidden, row_weight)
            extra = torch.zeros(m, device=self.device)
            for a in penalties:
                extra = extra + a.cls.penalty(step, a.values)
            for a in self.parametrization:
                kl = torch.zeros(m, device=self.device)
                for layer, w in enumerate(w_all):
                    kl = kl + a.cls.kl(w, self._extra(a, params, layer), a.values)
                if "warmup" in a.values:  # epochs completed before this step
                    epoch = torch.div(float(self.t), self.epoch_steps, rounding_mode="floor")
                    kl = kl * kl_warmup(epoch, a.values["warmup"])
                extra = extra + kl_per_example(kl, self.n_train)
            self._tech_penalty += extra.detach()
            loss = loss + extra
        self._tech_steps += 1
        (grad,) = torch.autograd.grad(loss.sum(), leaf)
        self.grad.copy_(grad)
        self._update()
        with torch.no_grad():
            for a in self.by_kind.get("projection", ()):
                values = {**a.values, "lr": self.lr.view(-1)}
                for w in self.W[:1] if a.cls.layers == "first" else self.W:
                    w.copy_(torch.where(a.on_column, a.cls.project(w, values), w))

    def train_forward(
        self,
        params: dict[str, list[Tensor]],
        h: Tensor,
        noise: Sequence[Tensor],
        weight: Tensor | None,
    ) -> tuple[Tensor, list[Tensor]]:
        """The training forward pass: outputs ``[M, out, B]`` and each hidden block's output.

        ``params`` are the layout's views by block kind (``"kernel"``, ``"bias"``, …) of the
        leaf autograd differentiates; ``h`` is the batch's features ``[M, F, B]``; ``noise``
        the epoch plan's draws at :attr:`place_of`. A model family's generic stack overrides
        this and :meth:`~reglab.engine.stack.Stack.eval_forward`.
        """
        w_all = params["kernel"]
        gammas, betas = params.get("gamma", []), params.get("beta", [])
        place_of = self.place_of
        h = self._perturb("input-noise", h)
        idx = place_of.get(("input", 0))
        if idx is not None:
            h = h * noise[idx]
        hidden = []
        for layer in range(self.n_hidden):
            w = w_all[layer]
            idx = place_of.get(("connect", layer))
            if idx is not None:
                w = w * noise[idx]
            z = self._dense(params, layer, w, h)
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
        return self._dense(params, self.n_hidden, w_all[-1], h), hidden

    def eval_forward(
        self, params: dict[str, list[Tensor]], running: Sequence[Tensor], h: Tensor
    ) -> Tensor:
        return super().eval_forward(self._eval_params(params), running, h)

    def export(self, index: int, *, best: bool) -> dict[str, np.ndarray]:
        """Member ``index``'s weights; a parametrization's kernels as evaluation uses them."""
        state = super().export(index, best=best)
        if self.parametrization:
            theta = self.best if best else self.theta
            views = self.by_kind_views(self.layout.views(theta, self.m))
            with torch.no_grad():
                kernels = self._eval_params(views)["kernel"]
            for b, w in zip(self.layout.of_kind("kernel"), kernels, strict=True):
                state[b.name] = w[index].cpu().numpy().copy()
        return state

    def columns(self, h: Tensor) -> Tensor:
        # A matrix product's kernel may depend on its operands' strides and on the number of
        # members; on a contiguous operand a family's products keep every member's bits.
        return h.contiguous()

    def _data_loss(self, out: Tensor, target: Tensor, row_weight: Tensor) -> Tensor:
        """Each member's batch-mean data loss ``[M]``; elements also go to ``loss_acc``."""
        if self.task == "multiclass":
            elem = -(torch.log_softmax(out, 1) * target)
        elif self.task == "binary":
            elem = pw.softplus(out) - out * target
        else:
            d = out - torch.addcmul(self.y_shift, target, self.y_scale)
            elem = d * d
        weighted = elem * row_weight
        self.loss_acc.add_(weighted.detach())
        return weighted.sum((1, 2))

    def penalty(self) -> np.ndarray:
        """Weight penalties at the current weights plus the techniques' mean step penalty."""
        total = super().penalty()
        if self._tech_steps:
            total = total + self._tech_penalty.cpu().numpy().astype(np.float64) / self._tech_steps
        self._tech_penalty.zero_()
        self._tech_steps = 0
        return total

    def select(self, keep: Sequence[int]) -> None:
        self._rngs = [self._rngs[i] for i in keep]
        keep_t = torch.tensor(list(keep), dtype=torch.long, device=self.device)
        self._tech_penalty = self._tech_penalty.index_select(0, keep_t)
        super().select(keep)
