"""A trained final model: preprocessing, network and target encoding in one object and one file.

A :class:`FinalModel` maps new rows to predictions exactly as the study's members map their
test rows: the fitted preprocessing (median/mode imputation, standardization, one-hot
encoding; :class:`~reglab.data.preprocess.Preprocessor`), the network (``module``, a plain
``torch.nn.Module`` in eval mode, :func:`~reglab.engine.export.single_model` with the
trained weights), then the target encoding: softmax (multiclass) or sigmoid (binary)
probabilities in the order of ``classes``, the class with the largest probability as the
label; for regression ``value = output · std + mean`` with the training rows' target mean and
standard deviation (the engine trains on standardized targets).

:meth:`FinalModel.save` writes it to one file (:mod:`reglab.final.modelfile`) and :func:`load`
reads it back without pickle; a loaded model predicts the same bits as the one saved.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from reglab._outputs import check_output, write_atomic
from reglab._version import VERSION
from reglab.data.preprocess import Preprocessor
from reglab.engine.export import member_module
from reglab.engine.family import family_of
from reglab.engine.skip import dense_architecture
from reglab.engine.spec import Architecture, Strategy, TrainConfig
from reglab.errors import ConfigError
from reglab.final.inputs import Rows, read_rows
from reglab.final.modelfile import (
    ModelFileError,
    json_bytes,
    pack,
    read_array,
    read_file,
    unpack,
    write_array,
)

__all__ = ["FinalModel", "MCPrediction", "load"]

_CHUNK = 8192


@dataclasses.dataclass(frozen=True)
class MCPrediction:
    """MC-dropout predictions (:meth:`FinalModel.predict_mc`).

    Attributes:
        mean: Mean class probabilities ``[n, C]`` over the dropout samples, or mean values
            ``[n]`` for regression (original units).
        std: Their standard deviation across the samples (same shape): the spread the masks
            give, an estimate of the model's epistemic uncertainty.
        labels: The class with the largest mean probability (``None`` for regression).
        samples: The number of dropout samples.
    """

    mean: np.ndarray
    std: np.ndarray
    labels: np.ndarray | None
    samples: int


"""Rows per forward pass when predicting (bounds memory; the same chunks every time)."""
_DTYPES = ("float32", "int64")


class FinalModel:
    """A model trained on all of a data set with one strategy (:func:`reglab.fit_final`).

    Attributes:
        module: The network, a plain ``torch.nn.Module`` (an :class:`~reglab.layers.MLP`) in
            eval mode; its input is the preprocessed table, its output raw logits (or the
            standardized regression value).
        preprocessor: The fitted :class:`~reglab.data.preprocess.Preprocessor`.
        task: ``"binary"``, ``"multiclass"`` or ``"regression"``.
        target: The target column's name.
        classes: The class labels (strings), in the order of :meth:`predict_proba`'s columns;
            ``()`` for regression.
        target_mean, target_std: The regression target's scaling (``0`` and ``1`` otherwise).
        arch, strategy, train: The architecture, strategy and training set-up.
        info: What it was trained on and how training went (data, rows, epochs, scores, the
            study it came from), as JSON-ready values.
        version: The reglab version that trained it.
    """

    def __init__(
        self,
        *,
        module: torch.nn.Module,
        preprocessor: Preprocessor,
        task: str,
        target: str,
        classes: tuple[str, ...],
        target_mean: float,
        target_std: float,
        arch: Architecture,
        strategy: Strategy,
        train: TrainConfig,
        info: Mapping[str, Any],
        version: str = VERSION,
    ) -> None:
        self.module = module.eval()
        self.preprocessor = preprocessor
        self.task = task
        self.target = target
        self.classes = tuple(classes)
        self.target_mean = float(target_mean)
        self.target_std = float(target_std)
        self.arch = arch
        self.strategy = strategy
        self.train = train
        self.info = dict(info)
        self.version = version

    def __repr__(self) -> str:
        what = f"{self.task} {self.target!r}"
        if self.classes:
            what += f" ({len(self.classes)} classes)"
        return (
            f"<FinalModel {self.strategy.name!r}: {what} from {len(self.columns)} columns "
            f"({self.arch.in_features} inputs), hidden {list(self.arch.hidden)}>"
        )

    # --- inputs -----------------------------------------------------------------------------

    @property
    def columns(self) -> tuple[str, ...]:
        """The feature columns new rows must have (numeric ones first)."""
        return (*self.preprocessor.numeric_, *self.preprocessor.categorical_)

    def read(self, data: Any) -> Rows:
        """The model's columns of ``data`` (DataFrame, table file or 2-D array), typed, with
        notices on what was ignored, imputed or unseen (:mod:`reglab.final.inputs`)."""
        pre = self.preprocessor
        return read_rows(
            data,
            numeric=pre.numeric_,
            categorical=pre.categorical_,
            categories=pre.categories_,
            target=self.target,
        )

    # --- predictions ------------------------------------------------------------------------

    def _inputs(self, data: Any) -> np.ndarray:
        return self.preprocessor.transform(self.read(data).frame)

    def _outputs(self, data: Any) -> np.ndarray:
        """Raw network outputs ``[n, out]`` as float64."""
        x = self._inputs(data)
        device = next(self.module.parameters()).device
        self.module.eval()
        parts = []
        with torch.no_grad():
            for start in range(0, len(x), _CHUNK):
                batch = torch.from_numpy(np.ascontiguousarray(x[start : start + _CHUNK]))
                parts.append(self.module(batch.to(device)).cpu().numpy())
        out = np.concatenate(parts) if parts else np.zeros((0, self.arch.out_features))
        return out.astype(np.float64)

    def predict_proba(self, data: Any) -> np.ndarray:
        """Class probabilities ``[n, len(classes)]`` of the rows ``data``.

        Raises:
            ConfigError: For a regression model.
        """
        if self.task == "regression":
            raise ConfigError(
                "FinalModel.predict_proba: the model must be a classifier; got a regression "
                "model (use predict)."
            )
        return self._proba(self._outputs(data))

    def _proba(self, out: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            if self.task == "binary":
                p1 = 1.0 / (1.0 + np.exp(-out[:, 0]))
                return np.stack([1.0 - p1, p1], axis=1)
            shifted = out - out.max(axis=1, keepdims=True)
            e = np.exp(shifted)
            proba: np.ndarray = e / e.sum(axis=1, keepdims=True)
            return proba

    def predict(self, data: Any) -> np.ndarray:
        """Class labels (strings, from :attr:`classes`) or regression values of ``data``."""
        out = self._outputs(data)
        if self.task == "regression":
            values: np.ndarray = out[:, 0] * self.target_std + self.target_mean
            return values
        return np.asarray(self.classes, dtype=object)[self._proba(out).argmax(axis=1)]

    def predict_mc(self, data: Any, samples: int = 30, *, seed: int = 0) -> MCPrediction:
        """MC-dropout predictions of ``data``: the mean and spread over ``samples`` passes with
        fresh dropout masks (:mod:`reglab.layers.mc_dropout`; batch norm stays in evaluation
        mode). Reproducible for a given ``seed``.

        Raises:
            ConfigError: When the network has no dropout, Gaussian dropout or DropConnect (its
                passes would all be the same), or ``samples`` is not an integer ≥ 2.
        """
        from reglab.layers.mc_dropout import has_dropout, mc_samples

        if isinstance(samples, bool) or not isinstance(samples, int) or samples < 2:
            raise ConfigError(
                f"FinalModel.predict_mc: `samples` must be an integer >= 2; got {samples!r}."
            )
        if not has_dropout(self.module):
            raise ConfigError(
                "FinalModel.predict_mc: the model must use dropout, Gaussian dropout or "
                f"DropConnect for MC-dropout; got strategy {self.strategy.name!r}, which has none."
            )
        x = self._inputs(data)
        device = next(self.module.parameters()).device
        parts = []
        for start in range(0, max(len(x), 1), _CHUNK):
            batch = torch.from_numpy(np.ascontiguousarray(x[start : start + _CHUNK])).to(device)
            draws = mc_samples(self.module, batch, samples=samples, seed=seed + start)
            parts.append(draws.cpu().numpy().astype(np.float64))
        out = np.concatenate(parts, axis=1)  # [T, n, out]
        if self.task == "regression":
            values = out[..., 0] * self.target_std + self.target_mean
            return MCPrediction(values.mean(0), values.std(0), None, samples)
        proba = np.stack([self._proba(o) for o in out])
        mean = proba.mean(0)
        labels = np.asarray(self.classes, dtype=object)[mean.argmax(axis=1)]
        return MCPrediction(mean, proba.std(0), labels, samples)

    def predictions(self, data: Any, *, mc_samples: int | None = None) -> pd.DataFrame:
        """One row per row of ``data``: ``prediction`` (the label or value) and, for a
        classifier, ``proba_<label>`` per class. With ``mc_samples`` they are MC-dropout means
        (:meth:`predict_mc`), with their spread in ``std`` (regression) or ``std_<label>``."""
        if mc_samples is not None:
            mc = self.predict_mc(data, mc_samples)
            if mc.labels is None:
                return pd.DataFrame({"prediction": mc.mean, "std": mc.std})
            table = {"prediction": mc.labels}
            table.update({f"proba_{c}": mc.mean[:, k] for k, c in enumerate(self.classes)})
            table.update({f"std_{c}": mc.std[:, k] for k, c in enumerate(self.classes)})
            return pd.DataFrame(table)
        out = self._outputs(data)
        if self.task == "regression":
            return pd.DataFrame({"prediction": out[:, 0] * self.target_std + self.target_mean})
        proba = self._proba(out)
        table = {"prediction": np.asarray(self.classes, dtype=object)[proba.argmax(axis=1)]}
        table.update({f"proba_{c}": proba[:, k] for k, c in enumerate(self.classes)})
        return pd.DataFrame(table)

    # --- the file ---------------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the model to ``path`` (atomically; see :mod:`reglab.final.modelfile`)."""
        out = check_output("path", path)
        return write_atomic(out, self.to_bytes())

    def to_bytes(self) -> bytes:
        """The model file's bytes."""
        state = {k: v.detach().cpu().numpy() for k, v in self.module.state_dict().items()}
        entries = {f"weights/{k}.npy": write_array(v) for k, v in state.items()}
        entries["model.json"] = json_bytes(self._config(list(state)))
        return pack(entries)

    def _config(self, weights: list[str]) -> dict[str, Any]:
        pre = self.preprocessor
        return {
            "task": self.task,
            "target": self.target,
            "classes": list(self.classes),
            "target_scaling": {"mean": self.target_mean, "std": self.target_std},
            "preprocessing": {
                "numeric": list(pre.numeric_),
                "categorical": list(pre.categorical_),
                "medians": [float(v) for v in pre.medians_],
                "means": [float(v) for v in pre.means_],
                "scales": [float(v) for v in pre.scales_],
                "modes": list(pre.modes_),
                "categories": [list(c) for c in pre.categories_],
            },
            "architecture": dataclasses.asdict(self.arch),
            "family": family_of(self.arch).name,
            "strategy": self.strategy.to_dict(),
            "train": dataclasses.asdict(self.train),
            "weights": weights,
            "info": self.info,
            "reglab_version": self.version,
        }

    @classmethod
    def from_bytes(cls, blob: bytes, where: str = "the model file") -> FinalModel:
        """A model from a model file's bytes (every check of :func:`load`)."""
        import json

        entries = unpack(blob, where)
        try:
            config = json.loads(entries["model.json"].decode("utf-8"))
            return cls._from_config(config, entries)
        except (KeyError, TypeError, ValueError, AttributeError, RuntimeError) as err:
            if isinstance(err, ModelFileError):
                raise
            raise ModelFileError(
                f"load: `path` must be a model file written by reglab fit; got {where!r} (its "
                f"content is not a valid model: {type(err).__name__}: {err})."
            ) from None

    @classmethod
    def _from_config(cls, config: dict[str, Any], entries: Mapping[str, bytes]) -> FinalModel:
        p = config["preprocessing"]
        pre = Preprocessor(p["numeric"], p["categorical"])
        pre.numeric_ = tuple(str(c) for c in p["numeric"])
        pre.categorical_ = tuple(str(c) for c in p["categorical"])
        pre.medians_ = np.array(p["medians"], dtype=np.float64)
        pre.means_ = np.array(p["means"], dtype=np.float64)
        pre.scales_ = np.array(p["scales"], dtype=np.float64)
        pre.modes_ = [None if m is None else str(m) for m in p["modes"]]
        pre.categories_ = [tuple(str(v) for v in c) for c in p["categories"]]
        n_num, n_cat = len(pre.numeric_), len(pre.categorical_)
        if {len(pre.medians_), len(pre.means_), len(pre.scales_)} != {n_num} or {
            len(pre.modes_),
            len(pre.categories_),
        } != {n_cat}:
            raise ValueError("the preprocessing's statistics do not match its columns")
        strategy = Strategy.from_dict(config["strategy"])
        arch = _architecture(config, strategy)
        if pre.n_features_out != arch.in_features:
            raise ValueError(
                f"the preprocessing gives {pre.n_features_out} inputs, the network takes "
                f"{arch.in_features}"
            )
        task, classes = str(config["task"]), tuple(str(c) for c in config["classes"])
        n_out = {"binary": 1, "multiclass": len(classes)}.get(task, 1)
        if (
            task != arch.task
            or arch.out_features != n_out
            or (task != "regression") != bool(classes)
        ):
            raise ValueError(f"the task {task!r} and its classes do not match the network")
        state = {}
        for key in config["weights"]:
            array = read_array(entries[f"weights/{key}.npy"])
            if array.dtype.name not in _DTYPES:
                raise ValueError(f"weight {key!r} has dtype {array.dtype}")
            state[key] = torch.from_numpy(array.copy())
        module = member_module(arch, strategy)
        module.load_state_dict(state, strict=True)
        scaling = config["target_scaling"]
        return cls(
            module=module,
            preprocessor=pre,
            task=task,
            target=str(config["target"]),
            classes=classes,
            target_mean=float(scaling["mean"]),
            target_std=float(scaling["std"]),
            arch=arch,
            strategy=strategy,
            train=TrainConfig(**config["train"]),
            info=config["info"],
            version=str(config["reglab_version"]),
        )


def _architecture(config: dict[str, Any], strategy: Strategy) -> Architecture:
    """The network a model file describes: its ``family`` (``mlp`` in files written before
    other families were saved) with the ``architecture`` fields, tuples restored from JSON."""
    fields = {**config["architecture"], "hidden": tuple(config["architecture"]["hidden"])}
    family = config.get("family", "mlp")
    if family in ("cnn", "cnn1d"):
        from reglab.engine.conv import ConvArchitecture, ConvBlock
        from reglab.engine.conv1d import Conv1dArchitecture

        conv = tuple(ConvBlock(**block) for block in fields["conv"])
        shape = Conv1dArchitecture if family == "cnn1d" else ConvArchitecture
        return shape(**{**fields, "conv": conv})
    if family == "rnn":
        from reglab.engine.rnn import RecurrentArchitecture

        return RecurrentArchitecture(**{**fields, "units": tuple(fields["units"])})
    if family not in ("mlp", "skip-mlp", "residual-mlp"):
        raise ValueError(f"the network's family {family!r} is not one reglab reads")
    if family == "residual-mlp":  # files written before branch norms have none
        fields.setdefault("branch_norm", False)
    return dense_architecture(strategy, **fields)


def load(path: str | os.PathLike[str]) -> FinalModel:
    """Read a model file written by :meth:`FinalModel.save` (or ``reglab fit``).

    Raises:
        ModelFileError: (a :class:`~reglab.errors.DataError`) when the file is missing,
            truncated, changed or damaged since it was written, or of another format version.
    """
    return FinalModel.from_bytes(read_file(path), os.fspath(path))
