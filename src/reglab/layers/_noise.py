"""Sampling the noise that the functional core consumes.

Single-model layers draw their noise here, from a caller-supplied ``torch.Generator`` or, when
none is given, from torch's default generator for the input's device. A generator on another
device than the input (say a CPU generator with CUDA inputs) draws on its own device and the
noise is moved, so the same generator gives the same masks everywhere.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["normal", "uniform"]


def _noise_dtype(like: Tensor) -> torch.dtype:
    return like.dtype if like.dtype in (torch.float32, torch.float64) else torch.float32


def uniform(shape: tuple[int, ...], like: Tensor, generator: torch.Generator | None) -> Tensor:
    """Uniform noise in [0, 1) of ``shape`` on ``like``'s device."""
    dtype = _noise_dtype(like)
    if generator is None:
        return torch.rand(shape, dtype=dtype, device=like.device)
    u = torch.rand(shape, generator=generator, dtype=dtype, device=generator.device)
    return u.to(like.device)


def normal(shape: tuple[int, ...], like: Tensor, generator: torch.Generator | None) -> Tensor:
    """Standard-normal noise of ``shape`` on ``like``'s device."""
    dtype = _noise_dtype(like)
    if generator is None:
        return torch.randn(shape, dtype=dtype, device=like.device)
    z = torch.randn(shape, generator=generator, dtype=dtype, device=generator.device)
    return z.to(like.device)
