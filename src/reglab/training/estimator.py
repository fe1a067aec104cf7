"""scikit-learn estimators: one regularized MLP with every technique as a hyperparameter.

:class:`RegularizedMLPClassifier` and :class:`RegularizedMLPRegressor` follow scikit-learn's
contract: ``__init__`` stores its arguments unchanged, ``fit`` validates them and trains a
:class:`reglab.layers.MLP` with :func:`reglab.fit`, learned state ends in ``_``. They work
with ``clone``, ``GridSearchCV``, ``cross_val_score`` and pipelines.

Nothing is standardized silently: put a ``StandardScaler`` in a ``Pipeline`` in front, as the
penalties and the learning rate assume features on comparable scales.

>>> from sklearn.datasets import load_iris
>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.preprocessing import StandardScaler
>>> X, y = load_iris(return_X_y=True)
>>> clf = make_pipeline(StandardScaler(), RegularizedMLPClassifier(
...     hidden_layer_sizes=(16,), l2=1e-3, dropout=0.1, lr=1e-2, epochs=30, random_state=0))
>>> clf.fit(X, y).score(X, y) > 0.9
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

try:
    from sklearn.utils.validation import validate_data
except ImportError:  # scikit-learn < 1.6

    def validate_data(_estimator: Any, /, *args: Any, **kwargs: Any) -> Any:
        return _estimator._validate_data(*args, **kwargs)


from reglab._validation import (
    Problems,
    check_choice,
    check_fraction,
    check_int,
    check_nonnegative,
    check_positive,
    message,
)
from reglab.errors import DataError
from reglab.layers import MLP
from reglab.layers.activations import ACTIVATIONS
from reglab.layers.mlp import BLOCK_ORDERS, DROPOUT_KINDS
from reglab.regularizers import L1L2, MODES, MaxNorm
from reglab.techniques.builtin import BUILTIN_FIELDS
from reglab.training.early_stopping import EarlyStopping
from reglab.training.history import History
from reglab.training.trainer import OPTIMIZERS, fit

__all__ = ["RegularizedMLPClassifier", "RegularizedMLPRegressor"]

_PREDICT_CHUNK = 8192

REGULARIZATION_PARAMS = (*(f for f in BUILTIN_FIELDS if f != "batch_norm"), "l1_mode")
"""The estimators' regularization parameters: the :class:`~reglab.engine.spec.Strategy`
fields of the built-in techniques (:mod:`reglab.techniques.builtin`); ``batch_norm`` shapes the
architecture. ``dropout_kind`` also accepts ``"alpha"`` (:class:`reglab.layers.AlphaDropout`),
which studies do not train."""


class _RegularizedMLP(BaseEstimator):
    """Shared hyperparameters, validation, model building and training."""

    _task_kind: str  # "classification" or "regression"

    def __init__(
        self,
        hidden_layer_sizes: Sequence[int] = (64,),
        activation: str = "relu",
        l1: float = 0.0,
        l2: float = 0.0,
        l1_mode: str = "penalty",
        dropout: float | Sequence[float] = 0.0,
        input_dropout: float = 0.0,
        dropout_kind: str = "standard",
        drop_connect: float = 0.0,
        max_norm: float = 0.0,
        batch_norm: bool = False,
        block_order: str = "bn-act-drop",
        weight_decay: float = 0.0,
        lr: float = 1e-3,
        optimizer: str = "adam",
        epochs: int = 200,
        batch_size: int | None = 32,
        early_stopping: bool = True,
        patience: int = 10,
        validation_fraction: float = 0.1,
        random_state: int | np.random.RandomState | None = None,
        device: str = "auto",
        verbose: bool = False,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.l1 = l1
        self.l2 = l2
        self.l1_mode = l1_mode
        self.dropout = dropout
        self.input_dropout = input_dropout
        self.dropout_kind = dropout_kind
        self.drop_connect = drop_connect
        self.max_norm = max_norm
        self.batch_norm = batch_norm
        self.block_order = block_order
        self.weight_decay = weight_decay
        self.lr = lr
        self.optimizer = optimizer
        self.epochs = epochs
        self.batch_size = batch_size
        self.early_stopping = early_stopping
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        who = type(self).__name__
        p = Problems()
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, int) and not isinstance(sizes, bool):
            sizes = (sizes,)
        if not isinstance(sizes, Sequence) or isinstance(sizes, str):
            p.add(message(who, "hidden_layer_sizes", "a sequence of integers >= 1", sizes))
        else:
            for units in sizes:
                p.check(check_int, who, "hidden_layer_sizes", units, minimum=1)
        p.check(check_choice, who, "activation", self.activation, ACTIVATIONS)
        for name in ("l1", "l2", "max_norm", "weight_decay"):
            p.check(check_nonnegative, who, name, getattr(self, name))
        p.check(check_choice, who, "l1_mode", self.l1_mode, MODES)
        rates = self.dropout if isinstance(self.dropout, Sequence) else [self.dropout]
        for rate in rates:
            p.check(check_fraction, who, "dropout", rate)
        per_layer = isinstance(self.dropout, Sequence) and isinstance(sizes, Sequence)
        if per_layer and len(self.dropout) != len(sizes):  # type: ignore[arg-type]
            p.add(
                f"{who}: `dropout` must be a float or one rate per hidden layer "
                f"({len(sizes)}); got {len(self.dropout)} rates."  # type: ignore[arg-type]
            )
        p.check(check_fraction, who, "input_dropout", self.input_dropout)
        p.check(check_choice, who, "dropout_kind", self.dropout_kind, DROPOUT_KINDS)
        p.check(check_fraction, who, "drop_connect", self.drop_connect)
        p.check(check_choice, who, "block_order", self.block_order, BLOCK_ORDERS)
        for flag in ("batch_norm", "early_stopping", "verbose"):
            if not isinstance(getattr(self, flag), bool):
                p.add(message(who, flag, "a bool", getattr(self, flag)))
        p.check(check_positive, who, "lr", self.lr)
        p.check(check_choice, who, "optimizer", self.optimizer, OPTIMIZERS)
        p.check(check_int, who, "epochs", self.epochs, minimum=1)
        if self.batch_size is not None:
            p.check(check_int, who, "batch_size", self.batch_size, minimum=1)
        p.check(check_int, who, "patience", self.patience, minimum=0)
        if self.early_stopping is True:
            v = self.validation_fraction
            if not isinstance(v, int | float) or not 0 < v < 1:
                p.add(message(who, "validation_fraction", "a float in (0, 1)", v))
        p.raise_if_any()

    # ------------------------------------------------------------------ work
    def _build(self, n_features: int, n_outputs: int, seed: int) -> MLP:
        sizes = self.hidden_layer_sizes
        hidden = (sizes,) if isinstance(sizes, int) else tuple(sizes)
        dropout = tuple(self.dropout) if isinstance(self.dropout, Sequence) else self.dropout
        regularizer = None
        if self.l1 > 0 or self.l2 > 0:
            regularizer = L1L2(l1=self.l1, l2=self.l2, mode=self.l1_mode)
        # Initialize from `seed` without disturbing torch's global generator.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return MLP(
                n_features,
                n_outputs,
                hidden=hidden,
                activation=self.activation,
                dropout=dropout,
                input_dropout=self.input_dropout,
                dropout_kind=self.dropout_kind,
                drop_connect=self.drop_connect,
                batch_norm=self.batch_norm,
                block_order=self.block_order,
                kernel_regularizer=regularizer,
                kernel_constraint=MaxNorm(self.max_norm) if self.max_norm > 0 else None,
            )

    def _train(self, X: np.ndarray, y: np.ndarray, task: str, n_outputs: int) -> None:
        seed = int(check_random_state(self.random_state).randint(0, 2**31 - 1))
        self.model_ = self._build(X.shape[1], n_outputs, seed)
        es = None
        if self.early_stopping:
            es = EarlyStopping(monitor="val_loss", patience=self.patience)
        self.history_: History = fit(
            self.model_,
            X,
            y,
            task=task,
            optimizer=self.optimizer,
            lr=self.lr,
            weight_decay=self.weight_decay,
            epochs=self.epochs,
            batch_size=self.batch_size,
            validation_split=self.validation_fraction if self.early_stopping else 0.0,
            validation_mode="stratified",
            early_stopping=es,
            device=self.device,
            seed=seed,
            verbose=self.verbose,
        )
        self.n_iter_ = len(self.history_)
        self.best_epoch_ = self.history_.best_epoch

    def _check_rows(self, n_rows: int) -> None:
        if self.early_stopping and n_rows < 2:
            raise DataError(
                f"{type(self).__name__}: `X` must have at least 2 rows with "
                f"early_stopping=True (some are held out for validation); got n_samples={n_rows}."
            )

    @torch.no_grad()
    def _forward(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "model_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        model = self.model_.eval()
        param = next(model.parameters())
        Xt = torch.as_tensor(X, dtype=param.dtype, device=param.device)
        out = torch.cat([model(chunk) for chunk in Xt.split(_PREDICT_CHUNK)])
        return out.double().cpu().numpy()

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags


class RegularizedMLPClassifier(ClassifierMixin, _RegularizedMLP):
    """An MLP classifier with L1/L2/Elastic-Net, dropout variants, DropConnect, max-norm, batch
    norm, decoupled weight decay and early stopping as plain hyperparameters.

    Two classes train one output logit with binary cross-entropy; more classes train one logit
    per class with cross-entropy. Labels may be of any type (``classes_`` holds them sorted).

    Hyperparameters (Keras semantics, see :mod:`reglab.regularizers` and :mod:`reglab.layers`):

    * ``l1``, ``l2``: ``l1·Σ|w| + l2·Σw²`` on the hidden kernels, added to the batch-mean loss;
      ``l1_mode="proximal"`` applies the L1 part by soft-thresholding (exact zeros).
    * ``dropout`` (one rate or one per hidden layer), ``input_dropout``, ``dropout_kind``
      (``"standard"``, ``"gaussian"``, ``"alpha"``), ``drop_connect`` (hidden kernels).
    * ``max_norm`` (0 = off): every kernel's incoming norm per unit is at most ``max_norm``.
    * ``batch_norm`` with ``block_order``; ``weight_decay``: decoupled (AdamW-style).
    * ``early_stopping``: hold out ``validation_fraction`` of the rows (stratified), stop after
      ``patience`` epochs without a lower validation loss, and keep the best weights.
    * ``random_state``: seeds the initialization, the batch order, the masks and the split.

    Attributes:
        classes_: The class labels.
        model_: The trained :class:`reglab.layers.MLP` (in evaluation mode).
        history_: Its :class:`~reglab.training.history.History`.
        n_features_in_: Number of features seen in fit.
        n_iter_: Number of epochs run.
        best_epoch_: The epoch whose weights the model holds.

    >>> import numpy as np
    >>> X = np.array([[0.0], [0.1], [0.9], [1.0]] * 10)
    >>> clf = RegularizedMLPClassifier((8,), lr=0.05, epochs=40, early_stopping=False,
    ...                                random_state=0).fit(X, ["no", "no", "yes", "yes"] * 10)
    >>> clf.classes_.tolist(), clf.predict([[0.05], [0.95]]).tolist()
    (['no', 'yes'], ['no', 'yes'])
    """

    def fit(self, X: Any, y: Any) -> RegularizedMLPClassifier:
        """Validate the hyperparameters and train on ``(X, y)``; returns ``self``."""
        self._check_params()
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self._check_rows(len(X))
        self.classes_, encoded = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise DataError(
                f"{type(self).__name__}: `y` must hold at least 2 classes; "
                f"got {len(self.classes_)}."
            )
        if len(self.classes_) == 2:
            self._train(X, encoded, "binary", 1)
        else:
            self._train(X, encoded, "multiclass", len(self.classes_))
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape ``(n_samples, n_classes)``, columns in ``classes_`` order."""
        out = self._forward(X)
        if len(self.classes_) == 2:
            p = 1.0 / (1.0 + np.exp(-out[:, 0]))
            return np.column_stack([1.0 - p, p])
        out = out - out.max(axis=1, keepdims=True)
        e = np.exp(out)
        return e / e.sum(axis=1, keepdims=True)

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """The logarithm of :meth:`predict_proba`."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of every row."""
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]


class RegularizedMLPRegressor(RegressorMixin, _RegularizedMLP):
    """An MLP regressor (mean squared error) with every regularization technique as a
    hyperparameter; see :class:`RegularizedMLPClassifier` for their meaning.

    ``y`` may have several columns (one output each). ``score`` is R².

    >>> import numpy as np
    >>> X = np.linspace(-1, 1, 40)[:, None]
    >>> reg = RegularizedMLPRegressor((16,), lr=0.02, epochs=100, early_stopping=False,
    ...                               random_state=0).fit(X, 2 * X[:, 0])
    >>> reg.score(X, 2 * X[:, 0]) > 0.95
    True
    """

    def fit(self, X: Any, y: Any) -> RegularizedMLPRegressor:
        """Validate the hyperparameters and train on ``(X, y)``; returns ``self``."""
        self._check_params()
        X, y = validate_data(self, X, y, dtype=np.float64, multi_output=True, y_numeric=True)
        self._check_rows(len(X))
        self._y_1d = y.ndim == 1
        self._train(X, y, "regression", 1 if y.ndim == 1 else y.shape[1])
        return self

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def predict(self, X: Any) -> np.ndarray:
        """Predictions, shape ``(n_samples,)`` (or ``(n_samples, n_outputs)``)."""
        out = self._forward(X)
        return out[:, 0] if self._y_1d else out
