"""Weight penalties with Keras names and semantics, plus scikit-learn's Elastic Net.

A :class:`Regularizer` maps one weight tensor to a 0-d penalty that is added to the
**batch-mean** data loss at every step (Keras):

* :class:`L1` — ``l1·Σ|w|``
* :class:`L2` — ``l2·Σw²`` (no ½: Keras ``L2(l2)`` equals SGD weight decay ``2·l2``)
* :class:`L1L2` — ``l1·Σ|w| + l2·Σw²``
* :class:`ElasticNet` — scikit-learn: ``alpha·l1_ratio·Σ|w| + ½·alpha·(1−l1_ratio)·Σw²``, i.e.
  ``L1L2(l1=alpha·l1_ratio, l2=½·alpha·(1−l1_ratio))``.

Every regularizer exposes the Keras-equivalent coefficients ``.l1`` and ``.l2`` and a
``.mode``. In ``mode="penalty"`` the L1 part is differentiated like any loss term (its
subgradient ``l1·sign(w)`` moves weights towards zero but practically never onto it). In
``mode="proximal"`` the L1 part is **not** in the value returned by ``__call__``: it is applied
after each optimizer step by soft-thresholding (:func:`reglab.regularizers.proximal_step`),
which gives exact zeros; ``__call__`` then returns only the L2 part.

Converting strengths between conventions:

* Keras ``(l1, l2)`` ↔ Elastic Net: ``alpha = l1 + 2·l2``, ``l1_ratio = l1/(l1 + 2·l2)``
  (:meth:`ElasticNet.from_keras`, :meth:`ElasticNet.to_keras`).
* glmnet ``(lambda_, alpha)`` minimizes ``1/(2n)·RSS + λ·[(1−α)/2·‖β‖² + α·‖β‖₁]``, whose
  penalty is ``ElasticNet(alpha=λ, l1_ratio=α)`` (:meth:`ElasticNet.from_glmnet`,
  :meth:`ElasticNet.to_glmnet`).
* scikit-learn's ``MLPClassifier``/``MLPRegressor(alpha)`` add ``½·alpha·Σw²/n_batch`` to each
  batch loss: ``L2(alpha/(2·batch_size))`` (:func:`sklearn_mlp_l2`).
* **Data term.** scikit-learn's ``ElasticNet``/``Lasso``/``Ridge`` (and glmnet) minimize
  ``1/(2n)·RSS + penalty`` — *half* the mean squared error. reglab adds the penalty to whatever
  data loss the model trains with; with plain MSE, ``MSE + P(w) = 2·(½·MSE + ½·P(w))``, so
  reglab ``ElasticNet(alpha)`` has the minimizer of scikit-learn ``ElasticNet(alpha/2)``
  (:func:`sklearn_elasticnet_alpha`, and its inverse :meth:`ElasticNet.from_sklearn`).

>>> import torch
>>> w = torch.tensor([[1.0, -2.0], [0.0, 3.0]])
>>> L1(0.1)(w)
tensor(0.6000)
>>> L2(0.5)(w)
tensor(7.)
>>> ElasticNet(alpha=1.0, l1_ratio=0.5)(w)       # 0.5·6 + 0.25·14
tensor(6.5000)
>>> ElasticNet.from_keras(l1=0.5, l2=0.25)
ElasticNet()
"""

from __future__ import annotations

from typing import Any, ClassVar

from torch import Tensor

from reglab._config import Configurable, as_instance
from reglab._validation import (
    Problems,
    check_choice,
    check_in_range,
    check_int,
    check_nonnegative,
    check_positive,
)
from reglab.regularizers import functional as F

__all__ = [
    "L1",
    "L1L2",
    "L2",
    "MODES",
    "ElasticNet",
    "Regularizer",
    "as_regularizer",
    "sklearn_elasticnet_alpha",
    "sklearn_mlp_l2",
]

MODES = ("penalty", "proximal")
"""How the L1 part is applied: differentiated as a loss term, or by soft-thresholding."""

DATA_LOSSES = ("mse", "half_mse")


class Regularizer(Configurable):
    """Base class: a penalty ``l1·Σ|w| + l2·Σw²`` on one weight tensor (Keras coefficients).

    Subclasses set ``l1``, ``l2`` (floats >= 0) and ``mode`` (``"penalty"`` or
    ``"proximal"``) in their constructor. Regularizers are immutable value objects: equal
    configs compare equal.

    Attributes:
        l1: Keras-equivalent L1 coefficient.
        l2: Keras-equivalent L2 coefficient (no ½).
        mode: ``"penalty"`` (L1 in the loss) or ``"proximal"`` (L1 by soft-thresholding after
            the optimizer step; :meth:`__call__` then returns only the L2 part).
    """

    registry_name: ClassVar[str | None] = "_Regularizer"

    l1: float
    l2: float
    mode: str

    @property
    def proximal(self) -> bool:
        """Whether the L1 part is applied by soft-thresholding after the optimizer step."""
        return self.mode == "proximal" and self.l1 > 0

    @property
    def loss_l1(self) -> float:
        """The L1 coefficient that goes into the loss: ``l1``, or 0 in proximal mode."""
        return 0.0 if self.mode == "proximal" else self.l1

    def __call__(self, w: Tensor) -> Tensor:
        """The penalty of one weight tensor, a 0-d tensor.

        ``l1·Σ|w| + l2·Σw²`` in penalty mode; ``l2·Σw²`` in proximal mode (the L1 part is
        applied by :func:`~reglab.regularizers.proximal_step`).
        """
        return self.member_penalty(w.unsqueeze(0))[0]

    def member_penalty(self, w_stacked: Tensor) -> Tensor:
        """Penalties of a member stack ``w_stacked: [M, ...]`` → ``[M]`` (same mode rule)."""
        return F.l1l2_penalty(w_stacked, self.loss_l1, self.l2)

    def grad(self, w: Tensor) -> Tensor:
        """Gradient of :meth:`__call__` w.r.t. ``w``: ``l1·sign(w) + 2·l2·w`` (mode applied).

        Adding it to ``w.grad`` is equivalent to putting the penalty in the loss, without
        building it into the autograd graph.
        """
        return F.penalty_grad(w, self.loss_l1, self.l2)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Regularizer) or type(other) is not type(self):
            return NotImplemented
        return self.get_config() == other.get_config()

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(self.get_config().items()))))


def _check_mode(problems: Problems, who: str, mode: Any) -> None:
    problems.check(check_choice, who, "mode", mode, MODES)


class L1(Regularizer):
    """Keras ``L1``: ``l1·Σ|w|``.

    Args:
        l1: Strength, a finite float >= 0.
        mode: ``"penalty"`` (subgradient in the loss) or ``"proximal"`` (soft-thresholding
            after every optimizer step: exact zeros).

    >>> import torch
    >>> L1(0.5)(torch.tensor([1.0, -3.0]))
    tensor(2.)
    >>> L1(0.5, mode="proximal")(torch.tensor([1.0, -3.0]))
    tensor(0.)
    """

    def __init__(self, l1: float = 0.01, mode: str = "penalty") -> None:
        p = Problems()
        p.check(check_nonnegative, "L1", "l1", l1)
        _check_mode(p, "L1", mode)
        p.raise_if_any()
        self.l1 = float(l1)
        self.l2 = 0.0
        self.mode = mode

    @classmethod
    def from_laplace_prior(
        cls, scale: float, n_train: int, *, noise_variance: float | None = None
    ) -> L1:
        """The L1 whose minimizer is the MAP estimate under a Laplace prior of ``scale`` b.

        reglab adds ``l1·Σ|w|`` to the batch-**mean** data loss, so with ``N`` training rows
        the MAP objective ``Σ_i NLL_i + Σ|w|/b`` is ``N·(mean NLL + Σ|w|/(b·N))``:
        ``l1 = 1/(b·N)`` for a classifier (reglab's loss is the NLL). For regression the loss
        is the MSE of standardized targets and the NLL of Gaussian noise of variance ``s²``
        (``noise_variance``, in standardized units) is ``MSE/(2s²)`` per row, so
        ``l1 = 2·s²/(b·N)``.

        >>> L1.from_laplace_prior(0.5, n_train=1000)
        L1(l1=0.002)
        """
        return cls(
            _map_strength("L1.from_laplace_prior", ("scale", scale, 1.0), n_train, noise_variance)
        )


class L2(Regularizer):
    """Keras ``L2``: ``l2·Σw²`` (no ½, so plain SGD with it equals weight decay ``2·l2``).

    Args:
        l2: Strength, a finite float >= 0.

    >>> import torch
    >>> L2(0.5)(torch.tensor([1.0, -3.0]))
    tensor(5.)
    """

    def __init__(self, l2: float = 0.01) -> None:
        p = Problems()
        p.check(check_nonnegative, "L2", "l2", l2)
        p.raise_if_any()
        self.l1 = 0.0
        self.l2 = float(l2)
        self.mode = "penalty"

    @classmethod
    def from_sklearn_mlp(cls, alpha: float, batch_size: int, *, data_loss: str = "sklearn") -> L2:
        """The L2 equivalent of scikit-learn's ``MLPClassifier``/``MLPRegressor(alpha=...)``.

        See :func:`sklearn_mlp_l2`.

        >>> L2.from_sklearn_mlp(1e-4, batch_size=200)
        L2(l2=2.5e-07)
        """
        return cls(sklearn_mlp_l2(alpha, batch_size, data_loss=data_loss))

    @classmethod
    def from_gaussian_prior(
        cls, variance: float, n_train: int, *, noise_variance: float | None = None
    ) -> L2:
        """The L2 whose minimizer is the MAP estimate under a Gaussian prior N(0, σ²).

        The prior adds ``Σw²/(2σ²)`` to the summed NLL; on reglab's batch-mean loss with
        ``N`` training rows that is ``l2 = 1/(2σ²·N)`` for a classifier and
        ``l2 = s²/(σ²·N)`` for regression with Gaussian noise of variance ``s²``
        (``noise_variance``, standardized units; see :meth:`L1.from_laplace_prior`).

        >>> L2.from_gaussian_prior(1.0, n_train=500)
        L2(l2=0.001)
        """
        prior = ("variance", variance, 0.5)
        return cls(_map_strength("L2.from_gaussian_prior", prior, n_train, noise_variance))


def _map_strength(
    who: str, prior: tuple[str, float, float], n_train: int, noise_variance: float | None
) -> float:
    """``c/(v·N)`` for a classifier, ``2·s²·c/(v·N)`` for regression; ``prior`` is the prior
    parameter's name, its value ``v`` and the coefficient ``c``."""
    name, value, coefficient = prior
    p = Problems()
    p.check(check_positive, who, name, value)
    p.check(check_int, who, "n_train", n_train, minimum=1)
    if noise_variance is not None:
        p.check(check_positive, who, "noise_variance", noise_variance)
    p.raise_if_any()
    factor = 1.0 if noise_variance is None else 2.0 * noise_variance
    return factor * coefficient / (value * n_train)


class L1L2(Regularizer):
    """Keras ``L1L2``: ``l1·Σ|w| + l2·Σw²``.

    Args:
        l1: L1 strength, a finite float >= 0.
        l2: L2 strength, a finite float >= 0.
        mode: ``"penalty"`` or ``"proximal"`` (applies to the L1 part only).

    >>> import torch
    >>> L1L2(l1=0.1, l2=0.5)(torch.tensor([1.0, -2.0]))
    tensor(2.8000)
    """

    def __init__(self, l1: float = 0.0, l2: float = 0.0, mode: str = "penalty") -> None:
        p = Problems()
        p.check(check_nonnegative, "L1L2", "l1", l1)
        p.check(check_nonnegative, "L1L2", "l2", l2)
        _check_mode(p, "L1L2", mode)
        p.raise_if_any()
        self.l1 = float(l1)
        self.l2 = float(l2)
        self.mode = mode

    def to_elasticnet(self) -> ElasticNet:
        """The same penalty as an :class:`ElasticNet` (see :meth:`ElasticNet.from_keras`).

        >>> L1L2(l1=0.3, l2=0.1).to_elasticnet()
        ElasticNet(alpha=0.5, l1_ratio=0.6)
        """
        return ElasticNet.from_keras(self.l1, self.l2, mode=self.mode)


class ElasticNet(Regularizer):
    """Elastic Net with scikit-learn's parameters.

    ``alpha·l1_ratio·Σ|w| + ½·alpha·(1−l1_ratio)·Σw²``, i.e. Keras ``l1 = alpha·l1_ratio`` and
    ``l2 = ½·alpha·(1−l1_ratio)``. ``l1_ratio=1`` is the lasso penalty, ``l1_ratio=0`` ridge.

    Note the data term: scikit-learn's ``ElasticNet(alpha)`` minimizes ``½·MSE + penalty``,
    reglab adds the penalty to the model's own loss. With plain MSE, reglab
    ``ElasticNet(alpha)`` has the minimizer of scikit-learn ``ElasticNet(alpha/2)``; use
    :func:`sklearn_elasticnet_alpha` / :meth:`from_sklearn` to convert.

    Args:
        alpha: Overall strength, a finite float >= 0.
        l1_ratio: Mix in [0, 1] (1: pure L1).
        mode: ``"penalty"`` or ``"proximal"`` (applies to the L1 part only).

    >>> import torch
    >>> en = ElasticNet(alpha=0.2, l1_ratio=0.25)
    >>> (en.l1, en.l2)
    (0.05, 0.075)
    >>> en(torch.tensor([2.0]))                      # 0.05·2 + 0.075·4
    tensor(0.4000)
    """

    def __init__(self, alpha: float = 1.0, l1_ratio: float = 0.5, mode: str = "penalty") -> None:
        p = Problems()
        p.check(check_nonnegative, "ElasticNet", "alpha", alpha)
        p.check(
            check_in_range, "ElasticNet", "l1_ratio", l1_ratio, 0.0, 1.0, text="a float in [0, 1]"
        )
        _check_mode(p, "ElasticNet", mode)
        p.raise_if_any()
        self.alpha = float(alpha)
        self.l1_ratio = float(l1_ratio)
        self.mode = mode
        self.l1 = self.alpha * self.l1_ratio
        self.l2 = 0.5 * self.alpha * (1.0 - self.l1_ratio)

    @classmethod
    def from_keras(cls, l1: float, l2: float, *, mode: str = "penalty") -> ElasticNet:
        """The Elastic Net equal to Keras ``L1L2(l1, l2)``.

        ``alpha = l1 + 2·l2`` and ``l1_ratio = l1/(l1 + 2·l2)`` (``l1_ratio = 0.5`` when both
        are 0: the penalty is zero whatever the mix).

        >>> ElasticNet.from_keras(l1=0.3, l2=0.1)
        ElasticNet(alpha=0.5, l1_ratio=0.6)
        """
        p = Problems()
        p.check(check_nonnegative, "ElasticNet.from_keras", "l1", l1)
        p.check(check_nonnegative, "ElasticNet.from_keras", "l2", l2)
        p.raise_if_any()
        alpha = float(l1) + 2.0 * float(l2)
        l1_ratio = float(l1) / alpha if alpha > 0 else 0.5
        return cls(alpha=alpha, l1_ratio=min(l1_ratio, 1.0), mode=mode)

    def to_keras(self) -> L1L2:
        """The equal Keras regularizer ``L1L2(l1=alpha·l1_ratio, l2=½·alpha·(1−l1_ratio))``.

        >>> ElasticNet(alpha=0.5, l1_ratio=0.6).to_keras()
        L1L2(l1=0.3, l2=0.1)
        """
        return L1L2(l1=self.l1, l2=self.l2, mode=self.mode)

    @classmethod
    def from_glmnet(cls, lambda_: float, alpha: float, *, mode: str = "penalty") -> ElasticNet:
        """The penalty of glmnet's ``(lambda, alpha)``: ``ElasticNet(alpha=λ, l1_ratio=α)``.

        glmnet minimizes ``1/(2n)·RSS + λ·[(1−α)/2·‖β‖² + α·‖β‖₁]``; the bracket times ``λ`` is
        exactly this class's penalty. (glmnet's data term is ½·MSE, like scikit-learn's; see
        :func:`sklearn_elasticnet_alpha` for training with plain MSE.)

        >>> ElasticNet.from_glmnet(lambda_=0.1, alpha=1.0)
        ElasticNet(alpha=0.1, l1_ratio=1.0)
        """
        p = Problems()
        p.check(check_nonnegative, "ElasticNet.from_glmnet", "lambda_", lambda_)
        p.check(
            check_in_range,
            "ElasticNet.from_glmnet",
            "alpha",
            alpha,
            0.0,
            1.0,
            text="a float in [0, 1]",
        )
        p.raise_if_any()
        return cls(alpha=lambda_, l1_ratio=alpha, mode=mode)

    def to_glmnet(self) -> tuple[float, float]:
        """glmnet's ``(lambda, alpha)`` for this penalty: ``(self.alpha, self.l1_ratio)``.

        >>> ElasticNet(alpha=0.1, l1_ratio=0.9).to_glmnet()
        (0.1, 0.9)
        """
        return (self.alpha, self.l1_ratio)

    @classmethod
    def from_sklearn(
        cls,
        alpha: float,
        l1_ratio: float = 0.5,
        *,
        data_loss: str = "mse",
        mode: str = "penalty",
    ) -> ElasticNet:
        """reglab's Elastic Net with the minimizer of scikit-learn ``ElasticNet(alpha, l1_ratio)``.

        scikit-learn minimizes ``½·MSE + P(w)``. Training with ``data_loss="mse"`` (plain MSE)
        needs ``ElasticNet(2·alpha)``; with ``"half_mse"`` the strengths are equal. Inverse of
        :func:`sklearn_elasticnet_alpha`.

        >>> ElasticNet.from_sklearn(0.05, l1_ratio=1.0)
        ElasticNet(alpha=0.1, l1_ratio=1.0)
        """
        p = Problems()
        p.check(check_nonnegative, "ElasticNet.from_sklearn", "alpha", alpha)
        p.check(check_choice, "ElasticNet.from_sklearn", "data_loss", data_loss, DATA_LOSSES)
        p.raise_if_any()
        factor = 2.0 if data_loss == "mse" else 1.0
        return cls(alpha=factor * float(alpha), l1_ratio=l1_ratio, mode=mode)


def sklearn_elasticnet_alpha(alpha: float, *, data_loss: str = "mse") -> float:
    """scikit-learn's ``ElasticNet`` ``alpha`` with the same minimizer as reglab's ``alpha``.

    scikit-learn (and glmnet) minimize ``1/(2n)·‖y − Xw‖² + P_alpha(w)`` with the Elastic Net
    penalty ``P``; reglab adds ``P_alpha(w)`` to the model's data loss. With plain MSE
    (``data_loss="mse"``) ``MSE + P_alpha = 2·(½·MSE + P_{alpha/2})``, so the answer is
    ``alpha/2``; with ``data_loss="half_mse"`` it is ``alpha``. ``l1_ratio`` is unchanged.

    Args:
        alpha: reglab :class:`ElasticNet` strength.
        data_loss: The loss reglab trains with: ``"mse"`` or ``"half_mse"``.

    >>> sklearn_elasticnet_alpha(0.1)
    0.05
    >>> sklearn_elasticnet_alpha(0.1, data_loss="half_mse")
    0.1
    """
    p = Problems()
    p.check(check_nonnegative, "sklearn_elasticnet_alpha", "alpha", alpha)
    p.check(check_choice, "sklearn_elasticnet_alpha", "data_loss", data_loss, DATA_LOSSES)
    p.raise_if_any()
    return float(alpha) / 2.0 if data_loss == "mse" else float(alpha)


def sklearn_mlp_l2(alpha: float, batch_size: int, *, data_loss: str = "sklearn") -> float:
    """Keras ``l2`` equal to scikit-learn's MLP ``alpha`` at a given batch size.

    ``MLPClassifier``/``MLPRegressor`` add ``½·alpha·Σw²/n`` to each batch's loss, ``n`` the
    number of samples in the batch, on the weights only (not the intercepts). As a Keras
    penalty that is ``l2 = alpha/(2·batch_size)`` (exact for every full batch; scikit-learn's
    smaller last batch is penalized a little more).

    With ``data_loss="sklearn"`` the model's data loss is scikit-learn's (log-loss for
    classifiers, ``½·MSE`` for ``MLPRegressor``). With ``data_loss="mse"`` the model trains a
    regressor on plain MSE, twice scikit-learn's ``½·MSE``, so the penalty doubles too:
    ``l2 = alpha/batch_size``.

    >>> sklearn_mlp_l2(1e-4, 200)
    2.5e-07
    >>> sklearn_mlp_l2(1e-4, 200, data_loss="mse")
    5e-07
    """
    p = Problems()
    p.check(check_nonnegative, "sklearn_mlp_l2", "alpha", alpha)
    p.check(check_int, "sklearn_mlp_l2", "batch_size", batch_size, minimum=1)
    p.check(check_choice, "sklearn_mlp_l2", "data_loss", data_loss, ("sklearn", "mse"))
    p.raise_if_any()
    l2 = float(alpha) / (2.0 * batch_size)
    return 2.0 * l2 if data_loss == "mse" else l2


def as_regularizer(value: Any, who: str, param: str) -> Regularizer | None:
    """``None``, a :class:`Regularizer`, or a serialized one (``{"class_name", "config"}``).

    For layers accepting ``kernel_regularizer=`` and the like.
    """
    return as_instance(
        value, Regularizer, who, param, "a Regularizer (L1, L2, L1L2, ElasticNet) or None"
    )
