"""Fused LSTM and GRU cells: one autograd node per cell and time step.

:func:`reference_step` is the cell's maths written with torch operations (autograd
differentiates it); :func:`lstm_cell` and :func:`gru_cell` compute the same step without
recording its dozen element-wise operations, and give autograd the closed-form derivatives
(the structure of torch's fused ``_thnn_fused_lstm_cell``). A recurrent layer then costs
autograd one node per step for the cell instead of one per operation, and no slicing of the
gate tensor is recorded (the backward of a slice allocates and zeroes a whole gate tensor).
``tests/layers/test_recurrent.py`` checks the fused cells' values and gradients against
:func:`reference_step`.

Gates are ``[M, G·H, B]`` with the members first; every operation is element-wise, on each
member's own elements, and σ is ``1/(1 + exp(−x))`` (an element's bits do not depend on its
position). Derivatives, with ``σ' = σ(1 − σ)`` and ``tanh' = 1 − tanh²``:

* LSTM, ``c = f⊙c₋ + i⊙g``, ``h = o⊙tanh(c)``: ``δc = δh⊙o⊙tanh'(c) + δc_out``;
  ``δs_i = δc⊙g⊙σ'(i)``, ``δs_f = δc⊙c₋⊙σ'(f)``, ``δs_g = δc⊙i⊙tanh'(g)``,
  ``δs_o = δh⊙tanh(c)⊙σ'(o)``; ``δc₋ = δc⊙f``.
* GRU, ``n = tanh(a_n + r⊙q_n)``, ``h = n + z⊙(h₋ − n)``: ``δn = δh⊙(1 − z)``,
  ``δz = δh⊙(h₋ − n)``, ``δh₋ = δh⊙z``; ``δ(a_n) = δn⊙tanh'(n)``, ``δq_n = δ(a_n)⊙r``,
  ``δ(a_r) = δq_r = δ(a_n)⊙q_n⊙σ'(r)``, ``δ(a_z) = δq_z = δz⊙σ'(z)``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

__all__ = ["gru_cell", "lstm_cell", "reference_step", "sigmoid"]


def sigmoid(x: Tensor) -> Tensor:
    """``1/(1 + exp(−x))`` element by element (position-invariant bits)."""
    return torch.reciprocal(torch.exp(-x) + 1.0)


def _sigmoid_(x: Tensor) -> Tensor:
    return x.neg_().exp_().add_(1.0).reciprocal_()


def reference_step(
    cell: str, a: Tensor, r: Tensor, h: Tensor, c: Tensor | None
) -> tuple[Tensor, Tensor | None]:
    """One step of ``cell`` from the input part ``a`` and the recurrent part ``r``
    ``[M, G·H, B]`` (each with its bias) and the state ``h`` (``c``: the LSTM's cell)
    ``[M, H, B]``, in plain torch operations. Returns the new ``(h, c)`` (``c`` is ``None``
    for a GRU)."""
    units = h.shape[1]
    if cell == "lstm":
        s = a + r
        i = sigmoid(s[:, :units])
        f = sigmoid(s[:, units : 2 * units])
        g = torch.tanh(s[:, 2 * units : 3 * units])
        o = sigmoid(s[:, 3 * units :])
        c = i * g if c is None else f * c + i * g
        return o * torch.tanh(c), c
    rz = sigmoid(a[:, : 2 * units] + r[:, : 2 * units])
    reset, update = rz[:, :units], rz[:, units:]
    n = torch.tanh(a[:, 2 * units :] + reset * r[:, 2 * units :])
    return n + update * (h - n), None


class _LSTMCell(torch.autograd.Function):
    # The gates live in one [M, 4, H, B] tensor (σ of every slot, then tanh in slot 2), and
    # the backward pass writes each slot's factor in place: a handful of kernels per step.
    @staticmethod
    def forward(ctx: Any, s: Tensor, c_prev: Tensor) -> tuple[Tensor, Tensor]:
        m, units, rows = c_prev.shape
        y = _sigmoid_(s.clone()).view(m, 4, units, rows)
        torch.tanh(s.view(m, 4, units, rows)[:, 2], out=y[:, 2])
        i, f, g, o = y.unbind(1)
        c = f * c_prev + i * g
        tc = torch.tanh(c)
        ctx.save_for_backward(y, c_prev, tc)
        return o * tc, c

    @staticmethod
    def backward(ctx: Any, dh: Tensor, dc_out: Tensor) -> tuple[Tensor, Tensor]:
        y, c_prev, tc = ctx.saved_tensors
        i, f, g, o = y.unbind(1)
        dc = (dh * o).mul_(1.0 - tc * tc).add_(dc_out)
        slope = y * (1.0 - y)  # σ' in every slot, then tanh' in slot 2
        torch.mul(g, g, out=slope[:, 2]).neg_().add_(1.0)
        ds = torch.empty_like(y)
        torch.mul(dc, g, out=ds[:, 0])
        torch.mul(dc, c_prev, out=ds[:, 1])
        torch.mul(dc, i, out=ds[:, 2])
        torch.mul(dh, tc, out=ds[:, 3])
        ds.mul_(slope)
        return ds.view(y.shape[0], -1, y.shape[3]), dc.mul_(f)


class _GRUCell(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, a: Tensor, q: Tensor, h_prev: Tensor) -> Tensor:
        units = h_prev.shape[1]
        rz = _sigmoid_(a[:, : 2 * units] + q[:, : 2 * units])
        r, z = rz[:, :units], rz[:, units:]
        qn = q[:, 2 * units :]
        n = torch.tanh(a[:, 2 * units :] + r * qn)
        ctx.save_for_backward(rz, n, qn, h_prev)
        return n + z * (h_prev - n)

    @staticmethod
    def backward(ctx: Any, dh: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        rz, n, qn, h_prev = ctx.saved_tensors
        units = n.shape[1]
        r, z = rz[:, :units], rz[:, units:]
        dn = (dh * (1.0 - z)).mul_(1.0 - n * n)
        da = torch.empty(n.shape[0], 3 * units, n.shape[2], dtype=n.dtype, device=n.device)
        torch.mul(dn, qn, out=da[:, :units])
        torch.mul(dh, h_prev - n, out=da[:, units : 2 * units])
        da[:, : 2 * units].mul_(rz * (1.0 - rz))
        da[:, 2 * units :] = dn
        dq = da.clone()
        torch.mul(dn, r, out=dq[:, 2 * units :])
        return da, dq, dh * z


def lstm_cell(s: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
    """The LSTM step from the gate pre-activations ``s = a + r`` ``[M, 4H, B]`` and the cell
    ``c`` ``[M, H, B]``: the new ``(h, c)``, as :func:`reference_step`."""
    h, c_new = _LSTMCell.apply(s, c)
    return h, c_new


def gru_cell(a: Tensor, q: Tensor, h: Tensor) -> Tensor:
    """The GRU step from the input part ``a`` and recurrent part ``q`` ``[M, 3H, B]`` and the
    state ``h``: the new state, as :func:`reference_step`."""
    out: Tensor = _GRUCell.apply(a, q, h)
    return out
