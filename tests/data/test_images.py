"""Image data: IDX files, .npz and image folders, on the first MNIST test images shipped here.

The oracle for the IDX reader is the format itself (16 header bytes, then the pixels), read
here with a plain ``frombuffer``; a folder written with Pillow must read back pixel for pixel.
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import numpy as np
import pytest

from reglab.data import Preprocessor, load_source
from reglab.data.arrays import data_inputs, parse_source
from reglab.data.idx import read_idx
from reglab.errors import ConfigError, DataError

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
N = 200


@pytest.fixture(scope="module")
def mnist() -> tuple[np.ndarray, np.ndarray]:
    """The first 200 test images ``[200, 28, 28]`` uint8 and their labels, read by hand."""
    raw = gzip.decompress((SHARED / "mnist-t10k-images-idx3-ubyte.gz").read_bytes())
    labels = gzip.decompress((SHARED / "mnist-t10k-labels-idx1-ubyte.gz").read_bytes())
    images = np.frombuffer(raw, dtype=np.uint8, offset=16)[: N * 784].reshape(N, 28, 28)
    return images.copy(), np.frombuffer(labels, dtype=np.uint8, offset=8)[:N].copy()


def idx_bytes(values: np.ndarray, code: int = 0x08) -> bytes:
    header = bytes([0, 0, code, values.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in values.shape
    )
    return header + values.astype(values.dtype.newbyteorder(">")).tobytes()


def write_idx(folder: Path, images: np.ndarray, labels: np.ndarray, *, gz: bool) -> Path:
    def put(name: str, blob: bytes) -> None:
        (folder / (name + (".gz" if gz else ""))).write_bytes(gzip.compress(blob) if gz else blob)

    put("small-images-idx3-ubyte", idx_bytes(images))
    put("small-labels-idx1-ubyte", idx_bytes(labels))
    return folder / "small"


@pytest.mark.parametrize("gz", [True, False], ids=["gzipped", "plain"])
def test_idx_prefix_loads_the_images_and_labels(tmp_path: Path, mnist, gz: bool) -> None:
    images, labels = mnist
    prefix = write_idx(tmp_path, images, labels, gz=gz)
    ds = load_source(f"idx:{prefix}")
    assert (ds.kind, ds.shape, ds.task, ds.target, ds.scaling) == (
        "images", (1, 28, 28), "multiclass", "label", "range"
    )  # fmt: skip
    assert ds.described_shape == "200 images 1×28×28"
    assert ds.classes == tuple(str(c) for c in range(10))
    np.testing.assert_array_equal(ds.samples()[:, 0], images)
    np.testing.assert_array_equal(ds.y, labels)
    assert ds.feature_names[:2] == ("px[0,0,0]", "px[0,0,1]") and ds.n_features == 784


def test_the_shipped_mnist_test_set_loads() -> None:
    ds = load_source(f"idx:{SHARED / 'mnist-t10k'}")
    assert ds.described_shape == "10000 images 1×28×28" and np.bincount(ds.y).min() > 800


def test_read_idx_reads_other_types_in_native_byte_order(tmp_path: Path) -> None:
    values = np.arange(-6, 6, dtype=np.int16).reshape(3, 4)
    path = tmp_path / "v-idx2-short"
    path.write_bytes(idx_bytes(values, code=0x0B))
    out = read_idx(path)
    np.testing.assert_array_equal(out, values)
    assert out.dtype.byteorder in "=|" or out.dtype.isnative


def corrupt_cases(images: np.ndarray) -> list[tuple[str, bytes, bool, str]]:
    good = idx_bytes(images)
    return [
        ("truncated", good[:-100], False, r"78,300 data bytes .* need 78,400 \(truncated\)"),
        ("trailing", good + b"\0\0", False, r"with trailing bytes"),
        ("magic", b"\1" + good[1:], False, r"the magic number 01000803"),
        ("type code", good[:2] + b"\x07" + good[3:], False, r"the type code 0x07"),
        ("short header", good[:10], False, r"fewer than its 3-dimension header needs"),
        ("cut gzip", gzip.compress(good)[:-20], True, r"damaged or truncated gzip stream"),
    ]


@pytest.mark.parametrize("case", range(6), ids=["truncated", "trailing", "magic", "type-code",
                                                "short-header", "cut-gzip"])  # fmt: skip
def test_a_corrupt_idx_file_is_one_line_naming_it(tmp_path: Path, mnist, case: int) -> None:
    images, labels = mnist
    _, blob, zipped, pattern = corrupt_cases(images[:100])[case]
    name = "bad-images-idx3-ubyte" + (".gz" if zipped else "")
    (tmp_path / name).write_bytes(blob)
    (tmp_path / "bad-labels-idx1-ubyte").write_bytes(idx_bytes(labels[:100]))
    with pytest.raises(DataError, match=pattern) as err:
        load_source(f"idx:{tmp_path / 'bad'}")
    assert name in str(err.value) and "\n" not in str(err.value)


def test_idx_label_count_must_match(tmp_path: Path, mnist) -> None:
    images, labels = mnist
    write_idx(tmp_path, images, labels[:199], gz=False)
    with pytest.raises(DataError, match=r"'small-labels-idx1-ubyte' must hold one label per "
                       r"image of 'small-images-idx3-ubyte' \(200\); got 199\."):  # fmt: skip
        load_source(f"idx:{tmp_path / 'small'}")


def test_idx_prefix_without_files_names_what_it_looked_for(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"none of 'nope-images-idx3-ubyte', "
                       r"'nope-images.idx3-ubyte' \(or .gz\)"):  # fmt: skip
        load_source(f"idx:{tmp_path / 'nope'}")


def test_outputs_are_kept_off_both_idx_files(tmp_path: Path, mnist) -> None:
    prefix = write_idx(tmp_path, *mnist, gz=True)
    assert data_inputs(f"idx:{prefix}") == {
        "the images file": tmp_path / "small-images-idx3-ubyte.gz",
        "the labels file": tmp_path / "small-labels-idx1-ubyte.gz",
    }


# --- npz ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x_name", "y_name", "layout"),
    [("x", "y", "nhw"), ("X", "labels", "nchw"), ("images", "Y", "nhwc")],
    ids=["x-y-NHW", "X-labels-NCHW", "images-Y-NHWC"],
)
def test_npz_images(tmp_path: Path, mnist, x_name: str, y_name: str, layout: str) -> None:
    images, labels = mnist
    stored = {"nhw": images, "nchw": images[:, None], "nhwc": images[..., None]}[layout]
    np.savez(tmp_path / "d.npz", **{x_name: stored, y_name: labels})
    ds = load_source(f"npz:{tmp_path / 'd.npz'}")
    assert ds.shape == (1, 28, 28) and ds.name == "d.npz"
    np.testing.assert_array_equal(ds.samples()[:, 0], images)
    np.testing.assert_array_equal(ds.y, labels)
    assert any("channels-last" in n for n in ds.notices) == (layout == "nhwc")


@pytest.mark.parametrize(
    ("arrays", "pattern"),
    [
        ({"pixels": np.zeros((8, 4, 4)), "y": np.arange(8) % 2},
         r"must hold the images as one of 'x', 'X', 'images'; got \['pixels', 'y'\]"),
        ({"x": np.zeros((8, 16)), "y": np.arange(8) % 2},
         r"must be \[N, H, W\], \[N, C, H, W\] or \[N, H, W, C\] .* got shape \[8, 16\]"),
        ({"x": np.full((8, 4, 4), np.nan), "y": np.arange(8) % 2},
         r"must be finite numbers within float32's range; got 128 others, the first in sample 0"),
        ({"x": np.zeros((8, 4, 4)), "y": np.arange(7) % 2}, r"must have one label per sample"),
    ],
    ids=["no-x", "2-d", "nan", "count"],
)  # fmt: skip
def test_bad_npz_is_refused(tmp_path: Path, arrays: dict, pattern: str) -> None:
    np.savez(tmp_path / "d.npz", **arrays)
    with pytest.raises(DataError, match=pattern):
        load_source(f"npz:{tmp_path / 'd.npz'}")


# --- image folders ------------------------------------------------------------------------------


def write_folder(root: Path, images: np.ndarray, labels: np.ndarray, mode: str = "L") -> None:
    from PIL import Image

    for i, (img, label) in enumerate(zip(images, labels, strict=True)):
        (root / f"digit{label}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).convert(mode).save(root / f"digit{label}" / f"{i:03d}.png")


def test_image_folder_reads_back_pixel_for_pixel(tmp_path: Path, mnist) -> None:
    images, labels = mnist
    write_folder(tmp_path / "digits", images[:60], labels[:60])
    ds = load_source(f"images:{tmp_path / 'digits'}")
    assert ds.shape == (1, 28, 28) and ds.n_rows == 60
    assert ds.classes == tuple(f"digit{c}" for c in sorted(set(labels[:60].tolist())))
    order = np.lexsort((np.arange(60), labels[:60]))  # by class folder, then file name
    np.testing.assert_array_equal(ds.samples()[:, 0], images[:60][order])
    assert [ds.classes[k] for k in ds.y] == [f"digit{c}" for c in labels[:60][order]]


def test_rgb_folder_gives_three_channels_and_size_resizes(tmp_path: Path, mnist) -> None:
    images, labels = mnist
    write_folder(tmp_path / "rgb", images[:30], labels[:30], mode="RGB")
    ds = load_source(f"images:{tmp_path / 'rgb'}?size=14x14&scaling=channel")
    assert ds.shape == (3, 14, 14) and ds.scaling == "channel"
    samples = ds.samples()
    np.testing.assert_array_equal(samples[:, 0], samples[:, 2])  # grey pixels in RGB


def test_folder_of_mixed_sizes_is_refused_naming_two_files(tmp_path: Path, mnist) -> None:
    from PIL import Image

    images, labels = mnist
    write_folder(tmp_path / "mixed", images[:20], labels[:20])
    Image.fromarray(images[0][:20]).save(tmp_path / "mixed" / "digit7" / "zz.png")
    with pytest.raises(DataError, match=r"must all have one size \(or give \?size=HxW.*got "
                       r"28x28 for 'digit0/.*' and 28x20 for 'digit7/zz.png'"):  # fmt: skip
        load_source(f"images:{tmp_path / 'mixed'}")


def test_folder_without_pillow_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ConfigError, match=r"needs Pillow; install it with pip install "
                       r"'reglab\[images\]'\."):  # fmt: skip
        load_source(f"images:{tmp_path}")


# --- options and preprocessing ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "target", "pattern"),
    [
        ("npz:a.npz?scalling=channel", None, r"option 'scalling' .* Did you mean 'scaling'\?"),
        ("images:d?size", None, r"must be key=value joined by '&'; got 'size'"),
        ("npz:a.npz?scaling=minmax", None, r"`scaling` must be one of 'range', 'channel'"),
        ("npz:a.npz", "digit", r"`target` must be omitted or 'label'"),
    ],
    ids=["typo", "no-value", "bad-scaling", "target"],
)
def test_bad_options_are_refused(spec: str, target: str | None, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        load_source(spec, target)


def test_parse_source_keeps_the_path_and_options() -> None:
    assert parse_source("images:a/b?size=8x8") == ("images:", Path("a/b"), {"size": "8x8"})


def test_pixels_scale_to_unit_range_from_training_rows_only(tmp_path: Path, mnist) -> None:
    images, labels = mnist
    np.savez(tmp_path / "d.npz", x=images, y=labels)
    ds = load_source(f"npz:{tmp_path / 'd.npz'}")
    rows = np.arange(150)
    pre = Preprocessor.for_dataset(ds).fit(ds.X, rows)
    np.testing.assert_allclose(pre.transform(ds.X), ds.X.to_numpy() / 255.0, atol=1e-6)
    changed = ds.X.copy()
    changed.iloc[150:] = 0.5  # held-out rows never move the fitted statistics
    refit = Preprocessor.for_dataset(ds).fit(changed, rows)
    np.testing.assert_array_equal(refit.scales_, pre.scales_)


def test_channel_standardization_pools_each_channel(tmp_path: Path, mnist) -> None:
    images, labels = mnist
    rgb = np.stack([images, images // 2, 255 - images], axis=1)  # three distinct channels
    np.savez(tmp_path / "c.npz", x=rgb, y=labels)
    ds = load_source(f"npz:{tmp_path / 'c.npz'}?scaling=channel")
    rows = np.arange(0, 200, 2)
    out = Preprocessor.for_dataset(ds).fit_transform(ds.X, rows).reshape(-1, 3, 28, 28)
    train = rgb[rows].astype(np.float64)
    for c in range(3):
        expected = (rgb[:, c] - train[:, c].mean()) / train[:, c].std()
        np.testing.assert_allclose(out[:, c], expected, rtol=1e-5, atol=1e-5)


def test_drop_is_refused_for_images(tmp_path: Path, mnist) -> None:
    np.savez(tmp_path / "d.npz", x=mnist[0], y=mnist[1])
    with pytest.raises(DataError, match=r"must be table columns; got 'px\[0,0,0\]' for images"):
        load_source(f"npz:{tmp_path / 'd.npz'}", drop=["px[0,0,0]"])
