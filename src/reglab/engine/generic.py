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

Registry techniques (:mod:`reglab.techniques`) act through their member-batched class methods;
``"batch"`` techniques transform the batch before the forward pass, ``"loss"`` techniques replace
the data loss (with the forward pass at hand), and ``swa`` averages weights at epoch ends;
``lookahead`` and ``snapshot`` act around each optimizer step (:mod:`reglab.engine.trajectory`).
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
from reglab.engine.bn_refresh import blend_running_, recompute_running
from reglab.engine.layout import StackLayout
from reglab.engine.spec import MemberSpec
from reglab.engine.stack import Stack
from reglab.engine.streams import NoisePlace, batch_pattern
from reglab.engine.trajectory import Trajectory, uses_trajectory
from reglab.layers.variational import kl_per_example, kl_warmup
from reglab.regularizers.functional import l1l2_penalty
from reglab.techniques import Batch, LossContext, Technique, TrainingBatch, get

__all__ = ["GenericStack", "needs_generic", "numeric_columns"]


def needs_generic(member: MemberSpec) -> bool:
    """Whether the member uses a technique without a fused form, or a model family without
    a fused stack."""
    from reglab.engine.family import family_of

    if not family_of(member.arch).fused:
        return True
    return any(not get(c.key).fused for c in member.strategy.techniques)


def numeric_columns(members: Sequence[MemberSpec], features: int) -> Tensor:
    """``[M, F, 1]``: 1 on each member's numeric input columns, 0 on its one-hot columns
    (:attr:`MemberSpec.numeric_features`)."""
    out = torch.ones(len(members), features, 1)
    for i, member in enumerate(members):
        if member.numeric_features is not None:
            out[i, member.numeric_features :] = 0.0
    return out


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
        self.member_values = [
            {q.name: float(q.off if c is None else c[q.name]) for q in cls.params} for c in configs
        ]
        for key in cls.reads:  # a modifier's parameters, "off" where a member lacks it
            read = _Active(get(key), members, device)
            self.values.update(read.values)
            for mine, theirs in zip(self.member_values, read.member_values, strict=True):
                mine.update(theirs)
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
        self._avg: Tensor | None = None  # weight averages (swa), flat like theta
        self._iterate: Tensor | None = None  # the optimizer's weights while theta is averaged
        self._count = torch.zeros(self.m, device=self.device)
        self._trajectory = Trajectory(members, params, layout) if uses_trajectory(members) else None
        if self._trajectory is not None:
            self._trajectory.rebase(self)
        self._bn_factor: Tensor | None = None  # set during a recomputation of BN statistics
        self._train_rows: list[np.ndarray] | None = None
        self._iterate_running: list[Tensor] | None = None  # while evaluation holds new stats

    def keep_training_rows(self, rows: Sequence[np.ndarray]) -> None:
        """Each member's training rows in the data table (stack order), for recomputing
        batch norm's statistics of averaged weights (:mod:`reglab.engine.bn_refresh`)."""
        self._train_rows = list(rows)

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
        self._numeric = numeric_columns(self.members, self.features).to(self.device)
        self.n_train = torch.tensor(
            [float(len(m.train_idx)) for m in self.members], device=self.device
        )
        self.epoch_steps = torch.tensor(
            [float(batch_pattern(m)[0]) for m in self.members], device=self.device
        )
        self.parametrization = self.by_kind.get("parametrization", [])

    def begin_epoch(self) -> None:
        """Train on from the optimizer's own weights (``swa`` members were evaluated with
        their average)."""
        if self._iterate is not None:
            self.theta.copy_(self._iterate)
            self._iterate = None
        if self._trajectory is not None:
            self._trajectory.begin_epoch(self)
        if self._iterate_running is not None:  # the optimizer's own running statistics
            for r, kept in zip(self.running, self._iterate_running, strict=True):
                r.copy_(kept)
            self._iterate_running = None

    def end_epoch(self, epoch: int) -> None:
        """``swa`` members from their start epoch on: fold this epoch's weights into their
        running mean, ``w̄ ← w̄ + (w − w̄)/n``, and hold the mean for evaluation
        (:mod:`reglab.techniques.swa`); ``lookahead`` members hold their slow weights. With
        batch norm, both get running statistics recomputed for the weights they hold
        (:mod:`reglab.engine.bn_refresh`); training goes on with the iterate's own."""
        held = np.zeros(self.m, dtype=bool)
        before = [r.clone() for r in self.running] if self.running else None
        if self._trajectory is not None:
            self._trajectory.end_epoch(self)
            if self._trajectory.slow is not None:
                held |= self._trajectory.look_on
        for a in self.by_kind.get("epoch", ()):
            start = a.values["start"]
            now = (start > 0) & (start <= epoch)
            if not bool(now.any()):
                continue
            if self._avg is None:
                self._avg = self.theta.clone()
            self._count += now.to(self._count.dtype)
            flat = now[self.member_of]
            first = flat & (self._count == 1)[self.member_of]
            mean = self._avg + (self.theta - self._avg) / self._count.clamp(min=1)[self.member_of]
            self._avg = torch.where(first, self.theta, torch.where(flat, mean, self._avg))
            self._iterate = self.theta.clone()
            self.theta.copy_(torch.where(flat, self._avg, self.theta))
            held |= now.cpu().numpy()
        if before is not None and held.any() and self._train_rows is not None:
            self._iterate_running = before
            recompute_running(self, held, self._train_rows)

    def _update_running(self, layer: int, mean: Tensor, var: Tensor, weight: Tensor | None) -> None:
        if self._bn_factor is None:
            super()._update_running(layer, mean, var, weight)
            return
        n = self._batch_n if weight is None else (weight > 0).sum(2, keepdim=True).to(var.dtype)
        unbiased = var * (n / torch.clamp(n - 1, min=1.0))
        blend_running_(self.running[layer], mean, unbiased, self._bn_factor)

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
            values = a.values
            if self.eval_slots is not None:  # the members of a subset, as in params
                keep = torch.tensor(self.eval_slots, dtype=torch.long, device=self.device)
                values = {k: v.index_select(0, keep) for k, v in values.items()}
            kernels = [
                a.cls.eval_kernel(w, self._extra(a, params, layer), values)
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

    def _sample(self, a: _Active, rows: list[int], shape: tuple[int, int]) -> Tensor:
        """``[M, …]``: each member's :meth:`Technique.sample` draws, zeros without it."""
        draws = [
            a.cls.sample(self._rngs[i][a.cls.key], a.member_values[i], rows[i], shape)
            if on
            else None
            for i, on in enumerate(a.on)
        ]
        like = next(d for d in draws if d is not None)
        out = np.zeros((self.m, *like.shape), dtype=np.float32)
        for i, d in enumerate(draws):
            if d is not None:
                out[i] = d
        return torch.from_numpy(out).to(self.device)

    def _batch_and_loss(
        self,
        params: dict[str, list[Tensor]],
        h: Tensor,
        target: Tensor,
        noise: Sequence[Tensor],
        weight: Tensor | None,
        row_weight: Tensor,
    ) -> tuple[Tensor, list[Tensor], Tensor]:
        """The forward pass and data loss ``[M]`` with the ``"batch"`` techniques' transform
        of the batch first and the ``"loss"`` techniques' loss in place of the plain one."""
        transforms, losses = self.by_kind.get("batch", ()), self.by_kind.get("loss", ())
        if not transforms and not losses:
            logits, hidden = self.train_forward(params, h, noise, weight)
            return logits, hidden, self._data_loss(logits, target, row_weight)
        rows = [self.batch] * self.m if weight is None else (weight > 0).sum((1, 2)).tolist()
        shape = (h.shape[1], h.shape[2])
        step = TrainingBatch(h, target, row_weight, self._numeric, self.task)
        for a in transforms:
            step = a.cls.transform(step, self._sample(a, rows, shape), a.values)
        logits, hidden = self.train_forward(params, step.x, noise, weight)
        if not losses:
            return logits, hidden, self._data_loss(logits, step.target, row_weight)
        loss = self._data_loss(logits, step.target, row_weight, accumulate=False)
        fixed = {k: [v.detach() for v in vs] for k, vs in params.items()}

        def attack_forward(x: Tensor) -> Tensor:
            return self.train_forward(fixed, x, noise, weight)[0]

        for a in losses:
            # Batch norm's running statistics: the attack's passes leave them alone, and the
            # technique's own pass updates only the members that use it.
            saved = [r.clone() for r in self.running]

            def restore_then_forward(x: Tensor, saved: list[Tensor] = saved) -> Tensor:
                for r, before in zip(self.running, saved, strict=True):
                    r.copy_(before)
                return self.train_forward(params, x, noise, weight)[0]

            ctx = LossContext(
                step,
                restore_then_forward,
                attack_forward,
                lambda out, y: self._data_loss(out, y, row_weight, accumulate=False),
            )
            loss = a.cls.loss(ctx, loss, self._sample(a, rows, shape), a.values)
            on = a.on_column.view(1, -1, 1, 1)
            for r, before in zip(self.running, saved, strict=True):
                r.copy_(torch.where(on, r, before))
        self.loss_acc[:, :1, :1] += loss.detach().view(-1, 1, 1)
        return logits, hidden, loss

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
        row_weight = self._uniform if weight is None else weight
        _, hidden, loss = self._batch_and_loss(params, h, target, noise, weight, row_weight)
        w_all, b_all = params["kernel"], params["bias"]
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
        if self._trajectory is not None:
            self._trajectory.before_update(self)
        self._update()
        if self._trajectory is not None:
            self._trajectory.after_update(self)
        with torch.no_grad():
            for a in self.by_kind.get("projection", ()):
                values = {**a.values, "lr": self.lr.view(-1)}
                if a.cls.layers == "skip":
                    self.project_skip(a.cls, a.on_column, values)
                    continue
                for w in self.W[:1] if a.cls.layers == "first" else self.W:
                    w.copy_(torch.where(a.on_column, a.cls.project(w, values), w))

    def project_skip(self, cls: type[Technique], on: Tensor, values: dict[str, Tensor]) -> None:
        """Project each member flagged ``on`` (``[M, 1, 1]``) by ``cls.project_pair`` on its
        skip path and first kernel: a family with a skip path (:mod:`reglab.engine.skip`)
        overrides it; members of other families never reach it (the engine refuses them)."""
        raise NotImplementedError(f"{type(self).__name__} has no skip path for {cls.key!r}")

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

    def outputs(self, rows: Tensor, *, best: bool, slots: Sequence[int] | None = None) -> Tensor:
        """As :meth:`Stack.outputs`; ``snapshot`` members give their ensemble's outputs."""
        out = super().outputs(rows, best=best, slots=slots)
        if self._trajectory is None:
            return out
        return self._trajectory.ensemble(out, self.t, self.task, slots, self._with(rows))

    def _with(self, rows: Tensor) -> Any:
        """``(flat, positions, slots)`` → :meth:`Stack.outputs` of ``rows[positions]`` for the
        members at ``slots``, with the weights ``flat`` (a stored snapshot)."""

        def evaluate(
            flat: Tensor, running: list[Tensor] | None, positions: list[int], slots: list[int]
        ) -> Tensor:
            index = torch.tensor(positions, dtype=torch.long, device=rows.device)
            theta, self.theta = self.theta, flat
            own, self.running = self.running, self.running if running is None else running
            try:
                return super(GenericStack, self).outputs(
                    rows.index_select(0, index), best=False, slots=slots
                )
            finally:
                self.theta, self.running = theta, own

        return evaluate

    def export(self, index: int, *, best: bool) -> dict[str, np.ndarray]:
        """Member ``index``'s weights; a parametrization's kernels as evaluation uses them;
        a ``snapshot`` member's stored snapshots as ``snapshots.{j}.…``."""
        state = self._export(index, best=best)
        if self._trajectory is not None:
            state.update(
                self._trajectory.snapshot_weights(index, lambda f, r: self._at(f, r, index))
            )
        return state

    def _at(self, flat: Tensor, running: list[Tensor] | None, index: int) -> dict[str, np.ndarray]:
        theta, self.theta = self.theta, flat
        own, self.running = self.running, self.running if running is None else running
        try:
            return self._export(index, best=False)
        finally:
            self.theta, self.running = theta, own

    def _export(self, index: int, *, best: bool) -> dict[str, np.ndarray]:
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

    def _data_loss(
        self, out: Tensor, target: Tensor, row_weight: Tensor, *, accumulate: bool = True
    ) -> Tensor:
        """Each member's batch-mean data loss ``[M]``; elements also go to ``loss_acc``
        (unless ``accumulate`` is false). Targets may be soft (mixup, label smoothing)."""
        if self.task == "multiclass":
            elem = -(torch.log_softmax(out, 1) * target)
        elif self.task == "binary":
            elem = pw.softplus(out) - out * target
        else:
            d = out - torch.addcmul(self.y_shift, target, self.y_scale)
            elem = d * d
        weighted = elem * row_weight
        if accumulate:
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
        if self._avg is not None:
            self._avg = self.layout.select(self._avg, self.m, keep_t)
        if self._iterate is not None:
            self._iterate = self.layout.select(self._iterate, self.m, keep_t)
        self._count = self._count.index_select(0, keep_t)
        if self._train_rows is not None:
            self._train_rows = [self._train_rows[i] for i in keep]
        if self._iterate_running is not None:
            self._iterate_running = [r.index_select(1, keep_t) for r in self._iterate_running]
        self._tech_penalty = self._tech_penalty.index_select(0, keep_t)
        if self._trajectory is not None:
            self._trajectory.select(keep)
        super().select(keep)
        if self._trajectory is not None:
            self._trajectory.rebase(self)
