"""Recurrent layers: member-batched LSTM and GRU maths, and a single-model recurrent network.

**The maths** (one home, used by the engine's stack and by :class:`RecurrentNet` in training).
Tensors are columns with a leading member dimension: a layer's inputs ``x`` are
``[M, in, T, B]`` (``T`` time steps, ``B`` rows), its kernels ``W_ih`` ``[M, G·H, in]`` and
``W_hh`` ``[M, G·H, H]``, its biases ``[M, G·H, 1]``, with ``G = 4`` gates for an LSTM and 3
for a GRU, in torch's order and layout (``nn.LSTM``'s ``weight_ih_l0``, …), so the same
numbers load into ``torch.nn.LSTM``/``torch.nn.GRU``. From ``h_0 = c_0 = 0``, per step ``t``::

    a_t = W_ih·x_t + b_ih          (all steps at once: one batched product per layer)
    r_t = W̃_hh·(h_{t−1} ⊙ m_h) + b_hh
    LSTM: i, f, g, o = σ(a+r)[0:H], σ(a+r)[H:2H], tanh(a+r)[2H:3H], σ(a+r)[3H:4H]
          c_t = f ⊙ c_{t−1} + i ⊙ g;   h_t = o ⊙ tanh(c_t)
    GRU:  r = σ(a_r + r_r), z = σ(a_z + r_z), n = tanh(a_n + r ⊙ r_n)
          h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}

``m_h`` ``[M, H, B]`` is the **recurrent (variational) dropout** mask, one per sequence and the
same at every step (Gal & Ghahramani, 2016); ``W̃_hh = W_hh ⊙ m_W`` is the **weight-dropped**
recurrent kernel, one mask ``[M, G·H, H]`` per forward pass (AWD-LSTM, Merity et al., 2018).
Both masks are inverted (kept entries scaled by ``1/(1 − p)``) and are identity in evaluation.
In the GRU the mask reaches the products with ``W_hh`` only; the update ``z ⊙ h_{t−1}`` reads
the state itself. Every operation acts on each member's own slice: nothing reduces across
members. σ is computed as ``1/(1 + exp(−x))`` element by element, whose bits do not depend on
an element's position in the tensor (torch's ``sigmoid`` kernel finishes a vector loop with a
different scalar formula). Each step's cell is one fused autograd node
(:mod:`reglab.layers.recurrent_cells`).

>>> import torch
>>> lstm = torch.nn.LSTM(3, 4, batch_first=True)
>>> x = torch.randn(2, 5, 3)
>>> p = dict(lstm.named_parameters())
>>> cols = x.permute(2, 1, 0).unsqueeze(0)                      # [1, 3, 5, 2]
>>> out = recurrent_sequence("lstm", cols, p["weight_ih_l0"][None], p["bias_ih_l0"][None, :, None],
...                          p["weight_hh_l0"][None], p["bias_hh_l0"][None, :, None])
>>> torch.allclose(out[0].permute(2, 1, 0), lstm(x)[0], atol=1e-6)
True
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from reglab._validation import Problems, check_choice, check_fraction, check_int, message
from reglab.layers.dense import Dense, Penalty, Projection
from reglab.layers.functional import dropout_mask
from reglab.layers.recurrent_cells import gru_cell, lstm_cell

__all__ = ["CELLS", "GATES", "RecurrentNet", "affine", "recurrent_sequence"]

CELLS = ("lstm", "gru")
"""The recurrent cells."""
GATES = {"lstm": 4, "gru": 3}
"""Gates per cell: the kernels have ``GATES[cell]·H`` rows."""


def affine(bias: Tensor, kernel: Tensor, x: Tensor) -> Tensor:
    """``kernel @ x + bias`` per member (``[M, o, k] @ [M, k, n]``, ``bias`` broadcast to
    ``[M, o, n]``).

    A product over ``k = 1`` (one input feature, or one unit) is a broadcast product: torch's
    batched product takes another route for it when there are several members, whose
    rounding differs from a single member's.
    """
    if kernel.shape[2] == 1:
        return kernel * x + bias
    return torch.baddbmm(bias, kernel, x)


def recurrent_sequence(
    cell: str,
    x: Tensor,
    w_ih: Tensor,
    b_ih: Tensor,
    w_hh: Tensor,
    b_hh: Tensor,
    *,
    recurrent_mask: Tensor | None = None,
    kernel_mask: Tensor | None = None,
) -> Tensor:
    """One recurrent layer over a whole sequence (see the module docstring).

    Args:
        cell: ``"lstm"`` or ``"gru"``.
        x: Inputs ``[M, in, T, B]``.
        w_ih, b_ih: Input kernel ``[M, G·H, in]`` and bias ``[M, G·H, 1]``.
        w_hh, b_hh: Recurrent kernel ``[M, G·H, H]`` and bias ``[M, G·H, 1]``.
        recurrent_mask: ``[M, H, B]`` multiplier of ``h_{t−1}`` before ``W_hh``, the same at
            every step (variational recurrent dropout), or ``None``.
        kernel_mask: ``[M, G·H, H]`` multiplier of ``W_hh`` (weight drop), or ``None``.

    Returns:
        The outputs ``h_1 … h_T`` as ``[M, H, T, B]``.
    """
    m, n_in, steps, rows = x.shape
    units = w_hh.shape[2]
    lstm = cell == "lstm"
    # An LSTM adds both biases before its gates: fold b_hh into the input part once.
    bias = b_ih + b_hh if lstm else b_ih
    a = affine(bias, w_ih, x.reshape(m, n_in, steps * rows)).view(m, -1, steps, rows)
    # One unbind, not a select per step: a select's backward writes a whole [M, G·H, T, B]
    # gradient each step, the unbind's stacks the steps' gradients once.
    parts = a.unbind(2)
    kernel = w_hh if kernel_mask is None else w_hh * kernel_mask
    h = x.new_zeros(m, units, rows)
    c = x.new_zeros(m, units, rows)
    outputs = []
    for t in range(steps):
        fed = h if recurrent_mask is None else h * recurrent_mask
        if lstm:
            h, c = lstm_cell(affine(parts[t], kernel, fed), c)
        else:
            h = gru_cell(parts[t], affine(b_hh, kernel, fed), h)
        outputs.append(h)
    return torch.stack(outputs, 2)


class RecurrentNet(nn.Module):
    """A stacked LSTM or GRU over flat rows of ``steps·features`` values (time-major:
    value ``t·F + f`` is feature ``f`` at step ``t``), then a Dense output layer on the last
    step's state.

    Modules: ``dropout_in`` (element dropout on the flat inputs, when ``input_dropout > 0``),
    ``rnn0, rnn1, …`` (one single-layer ``torch.nn.LSTM``/``torch.nn.GRU`` per layer,
    ``batch_first``, so ``state_dict`` keys read ``rnn0.weight_ih_l0``) and ``output``
    (:class:`~reglab.layers.Dense`). In evaluation the layers run as torch's own modules
    (cuDNN on a GPU); in training they run :func:`recurrent_sequence` on the same parameters,
    with the masks drawn from ``generator``:

    * ``dropout``: output dropout, one mask per sequence and layer on the layer's outputs
      (what the next layer, or the output layer, reads); a rate or one per layer;
    * ``recurrent_dropout``: the variational mask on ``h_{t−1}``;
    * ``weight_drop``: DropConnect on every ``W_hh``, one mask per forward pass.

    Args:
        cell: ``"lstm"`` or ``"gru"``.
        steps, features: The shape of a row.
        out_features: Outputs (logits or regression targets).
        units: Hidden units of each recurrent layer.
        kernel_regularizer: One penalty or ``None`` per recurrent layer (on ``W_ih`` and
            ``W_hh``) and one for the output kernel, last.
        kernel_constraint: A constraint for every kernel (``MaxNorm``: one norm per row, a
            gate unit's incoming weights).
        generator: Source of every mask (default: torch's default generator).

    >>> net = RecurrentNet("gru", 6, 2, 3, units=(8, 4))
    >>> [name for name, _ in net.named_children()]
    ['rnn0', 'rnn1', 'output']
    >>> net(torch.zeros(5, 12)).shape
    torch.Size([5, 3])
    """

    def __init__(
        self,
        cell: str,
        steps: int,
        features: int,
        out_features: int,
        units: Sequence[int] = (32,),
        *,
        dropout: float | Sequence[float] = 0.0,
        input_dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        weight_drop: float = 0.0,
        kernel_regularizer: Sequence[Penalty | None] | None = None,
        kernel_constraint: Projection | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        p = Problems()
        p.check(check_choice, "RecurrentNet", "cell", cell, CELLS)
        for name, size in (("steps", steps), ("features", features)):
            p.check(check_int, "RecurrentNet", name, size, minimum=1)
        if not units:
            p.add(message("RecurrentNet", "units", "at least one layer", list(units)))
        for u in units:
            p.check(check_int, "RecurrentNet", "units", u, minimum=1)
        rates = list(dropout) if isinstance(dropout, Sequence) else [dropout] * len(units)
        if len(rates) != len(units):
            p.add(message("RecurrentNet", "dropout", f"{len(units)} rates", len(rates)))
        fractions: list[tuple[str, float]] = [
            ("input_dropout", input_dropout),
            ("recurrent_dropout", recurrent_dropout),
            ("weight_drop", weight_drop),
        ]
        for name, value in fractions + [("dropout", r) for r in rates]:
            p.check(check_fraction, "RecurrentNet", name, value)
        if kernel_regularizer is not None and len(kernel_regularizer) != len(units) + 1:
            p.add(
                message(
                    "RecurrentNet",
                    "kernel_regularizer",
                    f"{len(units) + 1} entries",
                    len(kernel_regularizer),
                )
            )
        p.raise_if_any()
        super().__init__()
        self.cell, self.steps, self.features = cell, steps, features
        self.units = tuple(units)
        self.rates = tuple(float(r) for r in rates)
        self.input_dropout = float(input_dropout)
        self.recurrent_dropout = float(recurrent_dropout)
        self.weight_drop = float(weight_drop)
        self.generator = generator
        self.in_features = steps * features
        self.out_features = out_features
        regs = list(kernel_regularizer or [None] * (len(units) + 1))
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        kind = nn.LSTM if cell == "lstm" else nn.GRU
        fan_in = features
        for i, u in enumerate(units):
            layer = kind(fan_in, u, batch_first=True)
            reg = regs[i]
            layer._reglab_regularizers = (
                {} if reg is None else {"weight_ih_l0": reg, "weight_hh_l0": reg}
            )
            kernels = ("weight_ih_l0", "weight_hh_l0")
            layer._reglab_constraints = (
                {} if kernel_constraint is None else dict.fromkeys(kernels, kernel_constraint)
            )
            layers[f"rnn{i}"] = layer
            fan_in = u
        for name, module in layers.items():
            self.add_module(name, module)
        self.output = Dense(
            fan_in, out_features, kernel_regularizer=regs[-1], kernel_constraint=kernel_constraint
        )

    def _mask(self, p: float, shape: tuple[int, ...], like: Tensor) -> Tensor | None:
        if p <= 0:
            return None
        u = torch.rand(shape, generator=self.generator, device=like.device, dtype=like.dtype)
        return dropout_mask(u, p)

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``[n, out]`` of flat rows ``[n, steps·features]``."""
        n = x.shape[0]
        if self.training and self.input_dropout > 0:
            mask = self._mask(self.input_dropout, tuple(x.shape), x)
            x = x * mask if mask is not None else x
        seq = x.reshape(n, self.steps, self.features)
        if not self.training:
            for i in range(len(self.units)):
                seq = getattr(self, f"rnn{i}")(seq)[0]
            return self.output(seq[:, -1])
        cols = seq.permute(2, 1, 0).unsqueeze(0)  # [1, F, T, n]
        for i, u in enumerate(self.units):
            layer = getattr(self, f"rnn{i}")
            w_hh = layer.weight_hh_l0
            cols = recurrent_sequence(
                self.cell,
                cols,
                layer.weight_ih_l0[None],
                layer.bias_ih_l0[None, :, None],
                w_hh[None],
                layer.bias_hh_l0[None, :, None],
                recurrent_mask=self._mask(self.recurrent_dropout, (1, u, n), x),
                kernel_mask=self._mask(self.weight_drop, (1, *w_hh.shape), x),
            )
            out_mask = self._mask(self.rates[i], (1, u, 1, n), x)
            if out_mask is not None:
                cols = cols * out_mask
        return self.output(cols[0, :, -1].T)
