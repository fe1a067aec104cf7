"""Image and sequence data: the ``idx:``, ``npz:``, ``images:`` and ``seq:`` data sources.

Every place that takes a data argument (``reglab bench DATA``, ``reglab.bench("idx:…")``,
:func:`~reglab.data.builtin.load_source`) accepts, besides a table file and ``builtin:NAME``:

=========================  =================================================================
``idx:PREFIX``             ``PREFIX-images-idx3-ubyte`` and ``PREFIX-labels-idx1-ubyte``
                           (each may end in ``.gz``; ``.idx3-ubyte`` with a dot works too),
                           e.g. ``idx:data/mnist-t10k``
``npz:FILE``               a ``.npz`` with the images in ``x`` (or ``X``, ``images``) and the
                           labels in ``y`` (or ``Y``, ``labels``); ``[N, H, W]``,
                           ``[N, C, H, W]`` or channels-last ``[N, H, W, C]`` (C = 1, 3 or 4)
``images:DIR``             one sub-folder per class, each holding image files (Pillow, the
                           ``images`` extra); all the same size unless ``?size=HxW`` resizes
``seq:FILE``               sequences: a long-format CSV or a ``.npz`` ``[N, T, F]``
                           (:mod:`reglab.data.sequences`)
=========================  =================================================================

Options follow the path as in a URL query: ``images:photos?size=32x32&scaling=channel``.
Image data are labelled, so the target (``label``) is implied and the task is classification.
Their pixels are scaled to [0, 1] on each training part (``scaling=range``, the default:
``(x − min) / (max − min)`` over the part's pixels, ``x / 255`` for 8-bit images) or
standardized per channel (``scaling=channel``). The flattened pixels are the columns of
``Dataset.X`` (``px[c,h,w]``), ``Dataset.shape`` is ``(C, H, W)`` and ``Dataset.samples()``
gives them back as ``[N, C, H, W]``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reglab._validation import check_choice, suggest
from reglab.data._checks import FLOAT32_MAX, check_rows
from reglab.data._layout import image_columns
from reglab.data._schema import encode_target
from reglab.data.idx import read_idx
from reglab.data.load import Dataset
from reglab.errors import ConfigError, DataError

__all__ = [
    "PREFIXES",
    "build",
    "data_inputs",
    "is_array_source",
    "load_array_source",
    "parse_source",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm")
X_NAMES = ("x", "X", "images")
Y_NAMES = ("y", "Y", "labels")
LABEL = "label"
_OPTIONS: dict[str, tuple[str, ...]] = {
    "idx:": ("scaling",),
    "npz:": ("scaling",),
    "images:": ("scaling", "size"),
    "seq:": ("id", "time", "values", "window", "horizon", "scaling"),
}
PREFIXES = tuple(_OPTIONS)


def is_array_source(text: str) -> bool:
    """Whether ``text`` names an image or sequence source (``idx:``, ``npz:``, ``images:``,
    ``seq:``)."""
    return text.startswith(PREFIXES)


def parse_source(text: str) -> tuple[str, Path, dict[str, str]]:
    """``"images:DIR?size=32x32"`` → ``("images:", Path("DIR"), {"size": "32x32"})``.

    >>> parse_source("seq:a.csv?id=s&window=8")
    ('seq:', PosixPath('a.csv'), {'id': 's', 'window': '8'})
    """
    prefix = next(p for p in PREFIXES if text.startswith(p))
    rest = text[len(prefix) :]
    path, _, query = rest.partition("?")
    options: dict[str, str] = {}
    for item in filter(None, query.split("&")):
        key, eq, value = item.partition("=")
        if not eq or not value:
            raise ConfigError(
                f"load_source: options of {prefix} must be key=value joined by '&'; got {item!r}."
            )
        if key not in _OPTIONS[prefix]:
            raise ConfigError(
                f"load_source: option {key!r} must be one of {', '.join(_OPTIONS[prefix])} for "
                f"{prefix}; got {key!r}." + suggest(key, _OPTIONS[prefix])
            )
        options[key] = value
    if not path:
        raise ConfigError(f"load_source: {prefix} must be followed by a path; got {text!r}.")
    return prefix, Path(path), options


def data_inputs(data: str) -> dict[str, Path | None]:
    """The files a data argument reads, by role, for the checks that keep outputs off them
    (:func:`reglab._outputs.check_output`): none for ``builtin:NAME``, the IDX pair for
    ``idx:PREFIX``, else the file or folder named.

    >>> data_inputs("builtin:iris"), data_inputs("npz:a.npz")
    ({'the data file': None}, {'the data file': PosixPath('a.npz')})
    """
    if data.startswith("builtin:"):
        return {"the data file": None}
    if not is_array_source(data) or Path(data).exists():
        return {"the data file": Path(data)}
    prefix, path, _ = parse_source(data)
    if prefix != "idx:":
        return {"the data file": path}
    found: dict[str, Path | None] = {}
    for part, rank in (("images", 3), ("labels", 1)):
        try:
            found[f"the {part} file"] = _find(path, part, rank)
        except DataError:
            found[f"the {part} file"] = None  # refused when the data are loaded
    return found


def load_array_source(text: str, target: str | None = None, *, task: str | None = None) -> Dataset:
    """Load an ``idx:``, ``npz:``, ``images:`` or ``seq:`` source (see the module docstring).

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "tiny.npz"
    >>> np.savez(path, x=np.arange(64).reshape(4, 4, 4), y=[0, 1, 0, 1])
    >>> ds = load_array_source(f"npz:{path}")
    >>> ds.kind, ds.shape, ds.classes, ds.described_shape
    ('images', (1, 4, 4), ('0', '1'), '4 images 1×4×4')
    """
    prefix, path, options = parse_source(text)
    if prefix == "seq:":
        from reglab.data.sequences import load_sequences

        return load_sequences(path, target, task=task, **options)
    if target not in (None, LABEL):
        raise ConfigError(
            f"load_source: `target` must be omitted or {LABEL!r} for {text!r} (image data are "
            f"labelled); got {target!r}."
        )
    if task not in (None, "classification", "multiclass", "binary"):
        raise ConfigError(
            f"load_source: `task` must be omitted or a classification task for {text!r}; got "
            f"{task!r}."
        )
    scaling = check_choice("load_source", "scaling", options.get("scaling", "range"),
                           ("range", "channel"))  # fmt: skip
    loaders: dict[str, Callable[..., tuple[np.ndarray, np.ndarray, str, list[str]]]] = {
        "idx:": _idx, "npz:": _npz, "images:": _folder,
    }  # fmt: skip
    extra = {"size": options["size"]} if "size" in options else {}
    images, labels, where, notices = loaders[prefix](path, **extra)
    return build(
        "load_source", images, labels, kind="images", where=where, name=path.name or str(path),
        source=text, scaling=scaling, task=task or "classification", notices=notices,
    )  # fmt: skip


def build(
    who: str,
    samples: np.ndarray,
    labels: np.ndarray,
    *,
    kind: str,
    where: str,
    name: str,
    source: str,
    scaling: str,
    columns: Sequence[str] | None = None,
    task: str | None = "classification",
    target: str = LABEL,
    notices: Sequence[str] = (),
) -> Dataset:
    """A :class:`~reglab.data.load.Dataset` of ``samples`` (``[N, *shape]``) and their labels
    or values, after checking the values are finite and within float32's range."""
    shape = tuple(int(d) for d in samples.shape[1:])
    n = len(samples)
    check_rows(who, where, n, n, target)
    if len(labels) != n:
        raise DataError(
            f"{who}: {where} must have one {target} per sample ({n:,}); got {len(labels):,}."
        )
    flat = samples.reshape(n, -1)
    if flat.dtype.kind == "f":
        bad = ~np.isfinite(flat) | (np.abs(flat) > FLOAT32_MAX)
        if bad.any():
            row = int(np.flatnonzero(bad.any(axis=1))[0])
            raise DataError(
                f"{who}: the values of {where} must be finite numbers within float32's range; "
                f"got {int(bad.sum()):,} others, the first in sample {row}."
            )
    elif flat.dtype.kind not in "iub":
        raise DataError(f"{who}: the values of {where} must be numbers; got dtype {flat.dtype}.")
    names = list(columns) if columns is not None else image_columns(shape)
    frame = pd.DataFrame(flat.astype(np.float64), columns=names)
    series = pd.Series(labels)
    if series.dtype.kind in "iub":
        series = series.astype(np.float64)
    task_, y, classes, _ = encode_target(who, where, target, series, task)
    return Dataset(
        name=name, X=frame, y=y, task=task_, classes=classes, feature_names=tuple(names),
        numeric_columns=tuple(names), notices=tuple(notices), source=source, target=target,
        kind=kind, shape=shape, scaling=scaling,
    )  # fmt: skip


def as_images(values: np.ndarray, where: str) -> tuple[np.ndarray, list[str]]:
    """``[N, H, W]`` → ``[N, 1, H, W]``; ``[N, C, H, W]`` kept; ``[N, H, W, C]`` transposed."""
    notices: list[str] = []
    if values.ndim == 3:
        return values[:, None], notices
    if values.ndim == 4 and values.shape[1] in (1, 3, 4):
        return values, notices
    if values.ndim == 4 and values.shape[3] in (1, 3, 4):
        notices.append(f"{where} is channels-last [N, H, W, C]; read as [N, C, H, W]")
        return np.ascontiguousarray(values.transpose(0, 3, 1, 2)), notices
    raise DataError(
        f"load_source: the images of {where} must be [N, H, W], [N, C, H, W] or [N, H, W, C] "
        f"with C = 1, 3 or 4; got shape {list(values.shape)}."
    )


# --- idx: ------------------------------------------------------------------------------------


def _find(prefix: Path, part: str, rank: int) -> Path:
    names = [f"{prefix.name}-{part}-idx{rank}-ubyte", f"{prefix.name}-{part}.idx{rank}-ubyte"]
    candidates = [prefix.parent / (n + gz) for n in names for gz in ("", ".gz")]
    found = [p for p in candidates if p.is_file()]
    if not found:
        raise DataError(
            f"load_source: idx:{prefix} must name the common prefix of an IDX {part} file; got "
            f"none of {', '.join(repr(n) for n in names)} (or .gz) in "
            f"{str(prefix.parent)!r}."
        )
    return found[0]


def _idx(prefix: Path) -> tuple[np.ndarray, np.ndarray, str, list[str]]:
    images_path, labels_path = _find(prefix, "images", 3), _find(prefix, "labels", 1)
    images, labels = read_idx(images_path), read_idx(labels_path)
    if labels.ndim != 1:
        raise DataError(
            f"load_source: {labels_path.name!r} must hold one label per image (1 dimension); got "
            f"shape {list(labels.shape)}."
        )
    if len(labels) != len(images):
        raise DataError(
            f"load_source: {labels_path.name!r} must hold one label per image of "
            f"{images_path.name!r} ({len(images):,}); got {len(labels):,}."
        )
    images, notices = as_images(images, repr(images_path.name))
    return images, labels, f"{images_path.name!r}", notices


# --- npz: ------------------------------------------------------------------------------------


def read_npz(path: Path, who: str = "load_source") -> dict[str, np.ndarray]:
    """The arrays of a ``.npz`` (never unpickling objects)."""
    if not path.is_file():
        raise DataError(f"{who}: {str(path)!r} must be an existing .npz file; got no such file.")
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {k: archive[k] for k in archive.files}
    except (OSError, ValueError, EOFError) as err:
        raise DataError(
            f"{who}: {str(path)!r} must be a .npz file of numeric arrays; got {err}."
        ) from None


def pick(arrays: Mapping[str, Any], names: Sequence[str], path: Path, what: str) -> np.ndarray:
    """The array stored under the first of ``names``."""
    for name in names:
        if name in arrays:
            return np.asarray(arrays[name])
    raise DataError(
        f"load_source: {path.name!r} must hold the {what} as one of "
        f"{', '.join(repr(n) for n in names)}; got {sorted(arrays) or 'no arrays'}."
    )


def _npz(path: Path) -> tuple[np.ndarray, np.ndarray, str, list[str]]:
    arrays = read_npz(path)
    images = pick(arrays, X_NAMES, path, "images")
    labels = pick(arrays, Y_NAMES, path, "labels").reshape(-1)
    images, notices = as_images(images, repr(path.name))
    return images, labels, repr(path.name), notices


# --- images: ---------------------------------------------------------------------------------


def _pillow() -> Any:
    try:
        from PIL import Image
    except ImportError:
        raise ConfigError(
            "load_source: images:DIR needs Pillow; install it with pip install 'reglab[images]'."
        ) from None
    return Image


def _size(text: str) -> tuple[int, int]:
    h, _, w = text.lower().partition("x")
    if not (h.isdigit() and w.isdigit() and int(h) > 0 and int(w) > 0):
        raise ConfigError(f"load_source: `size` must be HxW, e.g. 28x28; got {text!r}.")
    return int(h), int(w)


def _folder(root: Path, size: str | None = None) -> tuple[np.ndarray, np.ndarray, str, list[str]]:
    image = _pillow()
    if not root.is_dir():
        raise DataError(
            f"load_source: images:{root} must be a folder with one sub-folder per class; got "
            f"{'a file' if root.exists() else 'no such folder'}."
        )
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    files = [
        (f, c)
        for c in classes
        for f in sorted((root / c).iterdir())
        if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file()
    ]
    if not files:
        raise DataError(
            f"load_source: images:{root} must hold image files ({', '.join(IMAGE_SUFFIXES)}) in "
            f"one sub-folder per class; got none."
        )
    wanted = _size(size) if size else None
    pictures: list[np.ndarray] = []
    for path, _ in files:
        try:
            with image.open(path) as img:
                img.load()
                pic = img if img.mode in ("L", "RGB") else img.convert("RGB")
                if wanted and pic.size != (wanted[1], wanted[0]):
                    pic = pic.resize((wanted[1], wanted[0]), image.Resampling.BILINEAR)
                pictures.append(np.asarray(pic))
        except (OSError, ValueError, SyntaxError) as err:
            raise DataError(
                f"load_source: {str(path)!r} must be a readable image; got {err}."
            ) from None
    rgb = any(p.ndim == 3 for p in pictures)
    arrays = [np.repeat(p[..., None], 3, axis=2) if rgb and p.ndim == 2 else p for p in pictures]
    first = arrays[0].shape
    for arr, (path, _) in zip(arrays, files, strict=True):
        if arr.shape[:2] != first[:2]:
            raise DataError(
                f"load_source: the images of images:{root} must all have one size (or give "
                f"?size=HxW to resize them); got {first[1]}x{first[0]} for "
                f"{os.fspath(files[0][0].relative_to(root))!r} and {arr.shape[1]}x{arr.shape[0]} "
                f"for {os.fspath(path.relative_to(root))!r}."
            )
    stacked = np.stack(arrays)
    images = stacked.transpose(0, 3, 1, 2) if rgb else stacked[:, None]
    labels = np.array([c for _, c in files], dtype=object)
    notices = [f"read {len(files):,} images of {len(classes)} classes from {str(root)!r}"]
    return np.ascontiguousarray(images), labels, f"images:{root}", notices
