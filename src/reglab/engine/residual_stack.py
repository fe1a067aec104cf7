"""The member-batched residual MLP: :class:`ResidualStack`, a generic stack.

Every Dense layer is one ``torch.baddbmm`` over the member dimension, as in the MLP's generic
stack, and autograd differentiates the forward pass of :mod:`reglab.engine.residual`. Batch
norm runs per member over the batch (its running statistics are ``[2, M, d, 1]`` per norm:
the blocks' input norms, then with ``branch_norm`` the norms that end their branches).

ShakeDrop's uniforms come from each member's own technique stream,
``derive(member seed, "technique", "shake-drop")``: at every training step a member with
``shake-drop`` draws ``[L, 3, n]`` (per block: ``b``'s, ``α``'s, ``β``'s; ``n`` its real rows in
the step's batch), exactly what :class:`~reglab.layers.residual.ResidualMLP` draws from its
``shake_generator`` in one training forward. The gates are drawn once per step, before the
forward pass, so the extra passes of adversarial training see the same gates. Members without
it draw nothing and get gates of exactly 1 (and ``1 − p_l = 1`` in evaluation).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from reglab.engine import backward as bw
from reglab.engine import pointwise as pw
from reglab.engine.generic import GenericStack
from reglab.engine.layout import StackLayout
from reglab.engine.residual import ResidualArchitecture, norm_names, shake_rate
from reglab.engine.spec import MemberSpec
from reglab.engine.streams import NoisePlace
from reglab.layers.shakedrop import depth_rates, shake_drop, shake_gates

__all__ = ["ResidualStack"]

SHAKE = "shake-drop"


class ResidualStack(GenericStack):
    """A stack of :class:`~reglab.engine.residual.ResidualArchitecture` members (arguments as
    :class:`~reglab.engine.stack.Stack`)."""

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
        arch: ResidualArchitecture = layout.arch  # type: ignore[assignment]
        self.branch_norm = arch.branch_norm
        self.out_norm = self.n_hidden if self.batch_norm else 0
        """Where the branch norms start among the norms (gammas, betas, running statistics)."""
        norms = len(norm_names(arch)) * self.n_hidden  # each normalizes the stream, of width d
        if norms:
            zeros, ones = torch.zeros(self.m, arch.width, 1), torch.ones(self.m, arch.width, 1)
            self.running = [torch.stack([zeros, ones]).to(self.device) for _ in range(norms)]
            self.best_running = [r.clone() for r in self.running] if keep_best else self.running
        self._gates: list[tuple[Tensor, Tensor]] | None = None

    def _refresh(self) -> None:
        super()._refresh()
        blocks = self.n_hidden
        rates = [shake_rate(m.strategy) for m in self.members]
        self.shake_on = [r > 0 for r in rates]
        per_block = [depth_rates(r, blocks) for r in rates]  # [M][L], in float64
        self.shake_p = [
            torch.tensor([p[i] for p in per_block], device=self.device).view(-1, 1, 1)
            for i in range(blocks)
        ]
        self.shake_keep = [
            torch.tensor([1.0 - p[i] for p in per_block], device=self.device).view(-1, 1, 1)
            for i in range(blocks)
        ]

    # -- ShakeDrop's gates ---------------------------------------------------------------------

    def _draw_gates(self, weight: Tensor | None) -> list[tuple[Tensor, Tensor]]:
        """This step's forward and backward gates ``[M, 1, B]`` of every block."""
        rows = [self.batch] * self.m if weight is None else (weight > 0).sum((1, 2)).tolist()
        u = np.zeros((self.m, self.n_hidden, 3, self.batch), dtype=np.float32)
        for i, on in enumerate(self.shake_on):
            if on:
                shape = (self.n_hidden, 3, int(rows[i]))
                u[i, ..., : rows[i]] = self._rngs[i][SHAKE].random(shape, dtype=np.float32)
        uniforms = torch.from_numpy(u).to(self.device)
        return [
            shake_gates(
                uniforms[:, i, 0:1], uniforms[:, i, 1:2], uniforms[:, i, 2:3], self.shake_p[i]
            )
            for i in range(self.n_hidden)
        ]

    def train_step(self, rows: Tensor, noise: Sequence[Tensor], weight: Tensor | None) -> None:
        self._gates = self._draw_gates(weight) if any(self.shake_on) else None
        try:
            super().train_step(rows, noise, weight)
        finally:
            self._gates = None

    # -- the forward passes ----------------------------------------------------------------

    def train_forward(
        self,
        params: dict[str, list[Tensor]],
        h: Tensor,
        noise: Sequence[Tensor],
        weight: Tensor | None,
    ) -> tuple[Tensor, list[Tensor]]:
        """Training outputs ``[M, out, B]`` and each block's branch output (after its closing
        norm, before noise)."""
        w_all = params["kernel"]
        gammas, betas = params.get("gamma", []), params.get("beta", [])
        place_of = self.place_of
        h = self._perturb("input-noise", h)
        idx = place_of.get(("input", 0))
        if idx is not None:
            h = h * noise[idx]
        h = self._dense(params, 0, w_all[0], h)
        hidden = []
        for block in range(self.n_hidden):
            r = h
            if self.batch_norm:
                r, _, _, mean, var = bw.batch_norm_train(r, gammas[block], betas[block], weight)
                self._update_running(block, mean.detach(), var.detach(), weight)
            first = 1 + 2 * block
            w = w_all[first]
            idx = place_of.get(("connect", block))
            if idx is not None:
                w = w * noise[idx]
            r = pw.activation(self.activation, self._dense(params, first, w, r))
            r = self._dense(params, first + 1, w_all[first + 1], r)
            if self.branch_norm:
                at = self.out_norm + block
                r, _, _, mean, var = bw.batch_norm_train(r, gammas[at], betas[at], weight)
                self._update_running(at, mean.detach(), var.detach(), weight)
            hidden.append(r)
            r = self._perturb("hidden-noise", r)
            idx = place_of.get(("hidden", block))
            if idx is not None:
                r = r * noise[idx]
            if self._gates is not None:
                r = shake_drop(r, *self._gates[block])
            h = h + r
        last = len(w_all) - 1
        return self._dense(params, last, w_all[last], pw.activation(self.activation, h)), hidden

    def eval_forward(
        self, params: dict[str, list[Tensor]], running: Sequence[Tensor], h: Tensor
    ) -> Tensor:
        """Evaluation outputs ``[m, out, R]``: no noise, running statistics, ShakeDrop's
        branches scaled by ``1 − p_l``."""
        params = self._eval_params(params)
        w_all, b_all = params["kernel"], params["bias"]
        gammas, betas = params.get("gamma", []), params.get("beta", [])
        keep = self.shake_keep
        if self.eval_slots is not None:
            slots = torch.tensor(self.eval_slots, dtype=torch.long, device=self.device)
            keep = [k.index_select(0, slots) for k in keep]
        h = torch.baddbmm(b_all[0], w_all[0], h)
        for block in range(self.n_hidden):
            r = h
            if self.batch_norm:
                r = self._bn_eval(r, running[block], gammas[block], betas[block])
            first = 1 + 2 * block
            r = pw.activation(self.activation, torch.baddbmm(b_all[first], w_all[first], r))
            r = torch.baddbmm(b_all[first + 1], w_all[first + 1], r)
            if self.branch_norm:
                at = self.out_norm + block
                r = self._bn_eval(r, running[at], gammas[at], betas[at])
            if any(self.shake_on):
                r = r * keep[block]
            h = h + r
        return torch.baddbmm(b_all[-1], w_all[-1], pw.activation(self.activation, h))

    def export(self, index: int, *, best: bool) -> dict[str, np.ndarray]:
        """Member ``index``'s weights as a :class:`~reglab.layers.residual.ResidualMLP`
        ``state_dict`` (batch norms' statistics under ``blocks.{l}.norm`` and
        ``blocks.{l}.out_norm``)."""
        state = super().export(index, best=best)
        arch: ResidualArchitecture = self.layout.arch  # type: ignore[assignment]
        for k, module in enumerate(norm_names(arch)):
            for block in range(self.n_hidden):
                for stat in ("running_mean", "running_var", "num_batches_tracked"):
                    at = k * self.n_hidden + block
                    state[f"blocks.{block}.{module}.{stat}"] = state.pop(f"bn{at}.{stat}")
        return state
