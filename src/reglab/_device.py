"""Which device a computation runs on: one rule for the engine, ``reglab.fit`` and studies.

``"auto"`` is CUDA when a GPU is visible, else the CPU; ``"cpu"``, ``"cuda"`` and ``"cuda:N"``
(or a ``torch.device``) are taken as given, and CUDA without a visible GPU is refused in one
line naming the caller.

>>> resolve_device("cpu")
device(type='cpu')
>>> resolve_device("tpu", "fit")
Traceback (most recent call last):
...
reglab.errors.ConfigError: fit: `device` must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got 'tpu'. Did you mean 'cpu'?
"""  # noqa: E501

from __future__ import annotations

import torch

from reglab._validation import message, suggest
from reglab.errors import ConfigError

__all__ = ["resolve_device"]


def resolve_device(device: str | torch.device, who: str = "train_members") -> torch.device:
    """The ``torch.device`` of ``device`` (see the module); errors name ``who``."""
    if isinstance(device, torch.device):
        dev: torch.device | None = device
    elif device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            dev = torch.device(device)
        except (RuntimeError, TypeError):
            dev = None
    if dev is None or dev.type not in ("cpu", "cuda"):
        raise ConfigError(
            message(who, "device", "'auto', 'cpu', 'cuda' or 'cuda:N'", device)
            + suggest(str(device), ["auto", "cpu", "cuda"])
        )
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            message(
                who,
                "device",
                "'cpu' or 'auto' (CUDA is not available: no GPU is visible)",
                device,
            )
        )
    return dev
