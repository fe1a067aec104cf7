"""Stochastic weight averaging (Izmailov et al. 2018): ``swa=START``.

From the end of epoch ``START`` on, each member keeps the running mean of its weights at the
end of every epoch,

    w̄ₙ = w̄ₙ₋₁ + (wₜ − w̄ₙ₋₁)/n        (n = t − START + 1; w̄₁ = w_START)

and is evaluated with ``w̄``: its validation curve, early stopping's best epoch, the restored
weights and the test scores are those of the average, while training goes on from the
optimizer's own iterate ``wₜ``. The learning rate stays the member's (SWA's constant schedule;
the cyclical one is not implemented). With batch norm, the average is evaluated with running
statistics recomputed for it by one pass over the member's training rows
(:mod:`reglab.engine.bn_refresh`, as ``torch.optim.swa_utils.update_bn``); training goes on
with the iterate's own. With ``lookahead`` (``lookahead+swa``) the weights averaged are the
slow ones Lookahead evaluates; ``snapshot`` is refused (an ensemble or an average?).

Search range: ``START`` in [5, 50] epochs (Izmailov et al. start averaging after about 75% of
a training budget; reglab's default budget is 100 epochs with early stopping).

>>> Swa(start=10).values
{'start': 10.0}
"""

from __future__ import annotations

from collections.abc import Mapping

from reglab.errors import ConfigError
from reglab.techniques.base import Param, Technique
from reglab.techniques.registry import register

__all__ = ["Swa"]


class Swa(Technique):
    """``swa=START``: evaluate each member with the mean of its weights since epoch START."""

    key = "swa"
    params = (
        Param(
            "start", 5.0, 50.0, "linear", minimum=1.0, maximum=100_000.0, integer=True, epoch=True
        ),
    )
    acts_on = "epoch"
    label = "stochastic weight averaging"
    order = 95

    def __init__(self, start: float) -> None:
        if isinstance(start, int | float) and start != int(start):
            raise ConfigError(f"Swa (swa): `start` must be a whole epoch number; got {start!r}.")
        super().__init__(start=start)

    @classmethod
    def run_problem(
        cls, values: Mapping[str, float], epochs: int, steps_per_epoch: int
    ) -> str | None:
        """A start after the last epoch would leave the average unused: the member would be
        plain training presented as SWA."""
        start = int(values["start"])
        if start > epochs:
            return (
                f"`swa` starts averaging at epoch {start}, after the last of {epochs} epochs "
                f"(--epochs): the average would never be used; give a start of at most {epochs}"
            )
        return None

    @classmethod
    def weight_copies(cls, values: Mapping[str, float]) -> int:
        """The running mean and the optimizer's iterate, each twice while the stack drops
        finished members, and the update's temporaries (the new mean, two selections): 6
        (0 when off)."""
        return 6 if values["start"] else 0


register(Swa)
