"""The per-epoch record of one training run.

Every measurement in a :class:`History` is taken in evaluation mode (dropout off, batch norm
using its running statistics) except ``running_loss``, the mean training objective over the
epoch's mini-batches as the optimizer saw it (training mode, penalty included).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["History"]

_SERIES = ("epoch", "train_loss", "running_loss", "penalty", "val_loss", "val_metric", "lr")


def _fmt(value: float) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "-"
    if value == 0 or 1e-3 <= abs(value) < 1e5:
        return f"{value:.4f}"
    return f"{value:.3e}"


@dataclass
class History:
    """Per-epoch curves of one training run, one list entry per epoch.

    Attributes:
        metric: Name of the validation metric (``None`` without one).
        epoch: Epoch numbers, counted from 1.
        train_loss: Data loss on the whole training set, measured in evaluation mode, without
            the penalty.
        running_loss: Mean over the epoch's mini-batches of the objective actually minimized
            (data loss + penalty, training mode).
        penalty: Total regularization penalty ``Σ_j penalty_j`` after the epoch.
        penalty_shares: Each named penalty's value per epoch; they sum to ``penalty``.
        val_loss: Data loss on the validation set (NaN without validation data).
        val_metric: The metric on the validation set (NaN without validation data).
        lr: Learning rate of the first parameter group during the epoch.
        best_epoch: The epoch whose weights the model holds at the end (0 when not tracked).
        stopped_epoch: The epoch at which early stopping fired (0 when it never did).

    Example:
        >>> h = History(metric="accuracy")
        >>> h.append(epoch=1, train_loss=0.7, running_loss=0.75, penalty=0.05,
        ...          penalty_shares={"l2": 0.05}, val_loss=0.72, val_metric=0.5, lr=0.01)
        >>> h.to_dict()["val_metric"]
        [0.5]
        >>> len(h)
        1
    """

    metric: str | None = None
    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    running_loss: list[float] = field(default_factory=list)
    penalty: list[float] = field(default_factory=list)
    penalty_shares: dict[str, list[float]] = field(default_factory=dict)
    val_loss: list[float] = field(default_factory=list)
    val_metric: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    best_epoch: int = 0
    stopped_epoch: int = 0

    def __len__(self) -> int:
        return len(self.epoch)

    def append(
        self,
        *,
        epoch: int,
        train_loss: float,
        running_loss: float = math.nan,
        penalty: float = 0.0,
        penalty_shares: Mapping[str, float] | None = None,
        val_loss: float | None = None,
        val_metric: float | None = None,
        lr: float = math.nan,
    ) -> None:
        """Record one epoch (``None`` validation values are stored as NaN)."""
        n = len(self.epoch)
        self.epoch.append(int(epoch))
        self.train_loss.append(float(train_loss))
        self.running_loss.append(float(running_loss))
        self.penalty.append(float(penalty))
        self.val_loss.append(math.nan if val_loss is None else float(val_loss))
        self.val_metric.append(math.nan if val_metric is None else float(val_metric))
        self.lr.append(float(lr))
        shares = dict(penalty_shares or {})
        for name in shares:
            if name not in self.penalty_shares:
                self.penalty_shares[name] = [math.nan] * n
        for name, values in self.penalty_shares.items():
            values.append(float(shares.get(name, math.nan)))

    @property
    def best_index(self) -> int | None:
        """Position of ``best_epoch`` in the lists, or None."""
        try:
            return self.epoch.index(self.best_epoch)
        except ValueError:
            return None

    def to_dict(self) -> dict[str, Any]:
        """Plain lists and numbers (JSON-ready); :meth:`from_dict` reverses it."""
        data: dict[str, Any] = {"metric": self.metric}
        for name in _SERIES:
            data[name] = list(getattr(self, name))
        data["penalty_shares"] = {k: list(v) for k, v in self.penalty_shares.items()}
        data["best_epoch"] = self.best_epoch
        data["stopped_epoch"] = self.stopped_epoch
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> History:
        """Rebuild a history from :meth:`to_dict`'s output."""
        kwargs: dict[str, Any] = {name: list(data.get(name, [])) for name in _SERIES}
        kwargs["penalty_shares"] = {
            k: list(v) for k, v in dict(data.get("penalty_shares", {})).items()
        }
        return cls(
            metric=data.get("metric"),
            best_epoch=int(data.get("best_epoch", 0)),
            stopped_epoch=int(data.get("stopped_epoch", 0)),
            **kwargs,
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per epoch (index ``epoch``); penalty shares as ``penalty[<name>]`` columns."""
        import pandas as pd

        columns: dict[str, list[float]] = {
            "train_loss": self.train_loss,
            "running_loss": self.running_loss,
            "penalty": self.penalty,
        }
        for name, values in self.penalty_shares.items():
            columns[f"penalty[{name}]"] = values
        columns["val_loss"] = self.val_loss
        columns[f"val_{self.metric}" if self.metric else "val_metric"] = self.val_metric
        columns["lr"] = self.lr
        return pd.DataFrame(columns, index=pd.Index(self.epoch, name="epoch"))

    def summary(self, max_rows: int = 20) -> str:
        """A text table of the curves (first and last epochs when there are many).

        The best epoch is marked ``*`` and the early-stopping epoch ``!``.
        """
        metric = f"val_{self.metric}" if self.metric else "val_metric"
        header = ["epoch", "train_loss", "penalty", "val_loss", metric, "lr"]
        rows = []
        for i, ep in enumerate(self.epoch):
            mark = ("*" if ep == self.best_epoch else "") + (
                "!" if ep == self.stopped_epoch else ""
            )
            rows.append(
                [
                    f"{ep}{mark}",
                    _fmt(self.train_loss[i]),
                    _fmt(self.penalty[i]),
                    _fmt(self.val_loss[i]),
                    _fmt(self.val_metric[i]),
                    _fmt(self.lr[i]),
                ]
            )
        if len(rows) > max_rows:
            head = max_rows // 2
            rows = [*rows[:head], ["..."] * len(header), *rows[len(rows) - (max_rows - head) :]]
        widths = [max(len(r[j]) for r in [header, *rows]) for j in range(len(header))]
        lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
        top = "  ".join(c.rjust(w) for c, w in zip(header, widths, strict=True))
        foot = (
            f"{len(self)} epochs; best epoch {self.best_epoch or '-'}; "
            f"stopped early at epoch {self.stopped_epoch}"
            if self.stopped_epoch
            else f"{len(self)} epochs; best epoch {self.best_epoch or '-'}; no early stop"
        )
        return "\n".join([top, *lines, foot])

    def __str__(self) -> str:
        return self.summary()
