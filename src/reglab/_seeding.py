"""All randomness derives from one root seed through :class:`numpy.random.SeedSequence`.

``derive(root, *path)`` gives a 63-bit integer seed for a named place in a study
(``derive(0, "fold", 3, "member", 7)``); the same path always gives the same seed, and
different paths are independent streams.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = ["derive", "generator", "torch_generator"]


def _word(part: object) -> int:
    if isinstance(part, int) and not isinstance(part, bool) and part >= 0:
        return part
    digest = hashlib.blake2b(repr(part).encode(), digest_size=4).digest()
    return int.from_bytes(digest, "little")


def derive(root: int, *path: object) -> int:
    """Derive a reproducible 63-bit seed for ``path`` under ``root``.

    >>> derive(0, "fold", 1) == derive(0, "fold", 1)
    True
    >>> derive(0, "fold", 1) != derive(0, "fold", 2)
    True
    """
    seq = np.random.SeedSequence([_word(root), *(_word(p) for p in path)])
    return int(seq.generate_state(2, dtype=np.uint32).astype(np.uint64) @ [1 << 31, 1]) & (
        (1 << 63) - 1
    )


def generator(seed: int) -> np.random.Generator:
    """A NumPy generator for ``seed``."""
    return np.random.default_rng(seed)


def torch_generator(seed: int, device: str = "cpu") -> torch.Generator:
    """A torch generator seeded with ``seed`` (torch is imported lazily)."""
    import torch

    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    return gen
