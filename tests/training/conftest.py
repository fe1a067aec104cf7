"""Shared set-up of the training tests."""

from __future__ import annotations

import torch

# Tiny models run fastest on one thread; several threads on shared cores spin and stall.
torch.set_num_threads(1)
