"""The layout of image and sequence data inside a :class:`~reglab.data.load.Dataset`.

A sample of shape ``(C, H, W)`` (images) or ``(T, F)`` (sequences) is stored flattened in
C-order as the numeric columns of ``Dataset.X``, so a multilayer perceptron trains on it as on
any table, while ``Dataset.shape`` keeps what a convolutional or recurrent model needs
(``Dataset.samples()`` restores ``[N, *shape]``). Column names say where each value sits:
``px[c,h,w]`` for a pixel, ``NAME[t]`` for feature ``NAME`` at time step ``t``.

>>> image_columns((1, 2, 2))
['px[0,0,0]', 'px[0,0,1]', 'px[0,1,0]', 'px[0,1,1]']
>>> sequence_columns(2, ("a", "b"))
['a[0]', 'b[0]', 'a[1]', 'b[1]']
>>> channel_groups("sequences", (2, 2), sequence_columns(2, ("a", "b")))
(('a[0]', 'a[1]'), ('b[0]', 'b[1]'))
>>> describe_shape("images", (1, 28, 28), 10000, 784)
'10000 images 1×28×28'
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from reglab._validation import Problems, check_choice

__all__ = [
    "KINDS",
    "SCALINGS",
    "channel_groups",
    "check_layout",
    "describe_shape",
    "image_columns",
    "sequence_columns",
]

KINDS = ("table", "images", "sequences")
SCALINGS = ("column", "range", "channel")
"""``column``: standardize every column; ``range``: one min-max over all values to [0, 1];
``channel``: standardize each image channel or sequence feature, pooled over its pixels or
time steps."""


def image_columns(shape: Sequence[int]) -> list[str]:
    """One name per pixel of a ``(C, H, W)`` image, in C-order."""
    return [f"px[{c},{h},{w}]" for c, h, w in np.ndindex(*shape)]


def sequence_columns(steps: int, features: Sequence[str]) -> list[str]:
    """One name per value of a ``(T, F)`` sequence, in C-order (time major)."""
    return [f"{f}[{t}]" for t in range(steps) for f in features]


def channel_groups(
    kind: str, shape: Sequence[int], columns: Sequence[str]
) -> tuple[tuple[str, ...], ...]:
    """The columns of each image channel or sequence feature (one group per column for a
    table)."""
    names = np.asarray(columns, dtype=object)
    if kind == "images":
        return tuple(tuple(block) for block in names.reshape(shape[0], -1))
    if kind == "sequences":
        return tuple(tuple(block) for block in names.reshape(shape[0], shape[1]).T)
    return tuple((str(c),) for c in columns)


def describe_shape(kind: str, shape: Sequence[int], n_rows: int, n_features: int) -> str:
    """The size of the data in words, as the terminal and the report show it."""
    if kind == "images":
        return f"{n_rows} images {'×'.join(str(d) for d in shape)}"
    if kind == "sequences":
        steps, features = shape
        return (
            f"{n_rows} sequences of {steps} steps × {features} "
            f"{'feature' if features == 1 else 'features'}"
        )
    return f"{n_rows} rows x {n_features} columns"


def check_layout(kind: str, shape: tuple[int, ...], scaling: str, n_columns: int) -> None:
    """Refuse a layout whose shape does not describe the columns."""
    check_choice("Dataset", "kind", kind, KINDS)
    check_choice("Dataset", "scaling", scaling, SCALINGS)
    p = Problems()
    rank = {"table": 0, "images": 3, "sequences": 2}[kind]
    if len(shape) != rank or any(not isinstance(d, int) or d < 1 for d in shape):
        p.add(f"Dataset: `shape` must be {rank} positive sizes for {kind!r} data; got {shape!r}.")
    elif rank and int(np.prod(shape)) != n_columns:
        p.add(
            f"Dataset: `shape` {shape!r} must hold one value per column ({n_columns}); got "
            f"{int(np.prod(shape))}."
        )
    p.raise_if_any()
