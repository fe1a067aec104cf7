"""Which network a study builds: the ``model`` option, and its default per kind of data.

``model="auto"`` (the default of :class:`~reglab.study.run.Study`, ``reglab bench``, ``tune``,
``path`` and ``fit``) picks the family that suits the data:

========== ==================================== ==========================================
data kind  loaders                              default model
========== ==================================== ==========================================
images     ``idx:``, ``images:``, ``npz:``      ``cnn``: LeNet-5's conv blocks, then
           ``[N, H, W(, C)]``                   ``hidden``
sequences  ``seq:`` CSV or ``.npz``             ``rnn``: an LSTM, ``hidden`` its units
           ``[N, T, F]``, ``builtin:sunspots``
tables     CSV, Parquet, most ``builtin:`` sets ``mlp``
========== ==================================== ==========================================

Sequences get the LSTM rather than the 1-D convolution (``--model cnn`` on sequences): the
regularizers people ask about for sequences are the recurrent ones (variational recurrent
dropout, weight drop), which only act on a recurrent network, and the recurrent family brings
its own default strategies that compare them; on sunspots the LSTM's test RMSE was also a
point lower. The 1-D convolution trains in about half the time per member
(``docs/benchmarks.md``) and is one flag away. ``--model mlp`` still trains a dense network
on any data.

>>> from types import SimpleNamespace
>>> images = SimpleNamespace(kind="images", shape=(1, 28, 28))
>>> resolve_model("auto", images), resolve_model("mlp", images)
('cnn', 'mlp')
>>> default_model(SimpleNamespace(kind="sequences", shape=(20, 1)))
'rnn'
"""

from __future__ import annotations

from typing import Any

__all__ = ["AUTO", "default_model", "describe_model", "resolve_model"]

AUTO = "auto"
"""The ``model`` value that picks :func:`default_model` for the data."""


def default_model(dataset: Any) -> str:
    """The model a study builds on ``dataset`` when none is given (see the module table)."""
    if dataset.kind == "images" and len(dataset.shape) == 3:
        return "cnn"
    if dataset.kind == "sequences" and len(dataset.shape) == 2:
        return "rnn"
    return "mlp"


def resolve_model(model: Any, dataset: Any) -> Any:
    """``model``, with ``"auto"`` (or ``None``) replaced by :func:`default_model`."""
    if model is None or (isinstance(model, str) and model.strip().lower() == AUTO):
        return default_model(dataset)
    return model


def describe_model(model: str, arch: Any, chosen: bool, kind: str) -> str:
    """One line saying which network a study trains, e.g. ``model: cnn, 1-D convolution over
    time (16@3, 32@3), then dense 64-32 (the default for sequences; --model mlp for a dense
    network)``."""
    from reglab.engine.family import family_of

    family = family_of(arch).name
    if family in ("cnn", "cnn1d"):
        blocks = ", ".join(
            f"{b.filters}@{b.kernel_size}" + ("" if family == "cnn1d" else f"x{b.kernel_size}")
            for b in arch.conv
        )
        what = "1-D convolution over time" if family == "cnn1d" else "2-D convolution"
        shape = f"{what} ({blocks}), then dense {'-'.join(str(h) for h in arch.hidden)}"
    elif family == "rnn":
        shape = f"{arch.cell.upper()} of {'-'.join(str(u) for u in arch.units)} units"
    else:
        shape = f"dense {'-'.join(str(h) for h in arch.hidden)}"
    why = f" (the default for {kind}; --model mlp for a dense network)" if chosen else ""
    return f"model: {model}, {shape}{why}"
