"""The fused LSTM/GRU cells equal the cell maths written in torch operations, in value and
gradient; a recurrent layer over a sequence equals ``torch.nn.LSTM``/``GRU`` (the engine's
oracle tests run the same through whole stacks, ``tests/engine/test_rnn.py``)."""

from __future__ import annotations

import pytest
import torch

from reglab.layers.recurrent import RecurrentNet, recurrent_sequence
from reglab.layers.recurrent_cells import gru_cell, lstm_cell, reference_step


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
def test_fused_cells_equal_the_reference_in_value_and_gradient(
    cell: str, dtype: torch.dtype
) -> None:
    g = torch.Generator().manual_seed(3)
    gates = 4 if cell == "lstm" else 3
    a = torch.randn(3, gates * 5, 7, generator=g, dtype=dtype, requires_grad=True)
    r = torch.randn(3, gates * 5, 7, generator=g, dtype=dtype, requires_grad=True)
    h = torch.randn(3, 5, 7, generator=g, dtype=dtype, requires_grad=True)
    c = torch.randn(3, 5, 7, generator=g, dtype=dtype, requires_grad=True)
    weights = [torch.randn(3, 5, 7, generator=g, dtype=dtype) for _ in range(2)]
    if cell == "lstm":
        h_ref, c_ref = reference_step("lstm", a, r, h, c)
        assert c_ref is not None
        h_new, c_new = lstm_cell(a + r, c)
        outputs = [(h_new, h_ref), (c_new, c_ref)]
        inputs = [a, r, c]
    else:
        h_ref, _ = reference_step("gru", a, r, h, None)
        outputs = [(gru_cell(a, r, h), h_ref)]
        inputs = [a, r, h]
    tol = {"atol": 1e-12, "rtol": 1e-10} if dtype == torch.float64 else {}
    fused = sum((o * w).sum() for (o, _), w in zip(outputs, weights, strict=False))
    reference = sum((o * w).sum() for (_, o), w in zip(outputs, weights, strict=False))
    for got, want in outputs:
        torch.testing.assert_close(got, want, **tol)
    grads = torch.autograd.grad(fused, inputs)
    expected = torch.autograd.grad(reference, inputs)
    for got, want in zip(grads, expected, strict=True):
        torch.testing.assert_close(got, want, **tol)


def test_gradcheck_of_a_layer_in_double() -> None:
    g = torch.Generator().manual_seed(0)
    for cell, gates in (("lstm", 4), ("gru", 3)):
        args = [torch.randn(*s, generator=g, dtype=torch.float64, requires_grad=True)
                for s in ((2, 2, 3, 4), (2, gates * 3, 2), (2, gates * 3, 1),
                          (2, gates * 3, 3), (2, gates * 3, 1))]  # fmt: skip
        assert torch.autograd.gradcheck(lambda *t, c=cell: recurrent_sequence(c, *t), args)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_training_forward_equals_torch_in_evaluation(cell: str) -> None:
    torch.manual_seed(0)
    net = RecurrentNet(cell, 6, 3, 2, units=(5, 4))
    x = torch.randn(9, 18)
    with torch.no_grad():
        torch.testing.assert_close(net.train()(x), net.eval()(x), atol=1e-6, rtol=1e-5)
