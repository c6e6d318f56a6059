"""Independent random streams from one seed: each random stage draws from its own generator."""

from __future__ import annotations

import zlib

import numpy as np
import torch


def stream(seed: int, stage: str, *index: int) -> torch.Generator:
    """A CPU generator for ``stage`` (and job ``index``) derived from ``seed``; streams of different
    stages are independent, so adding draws to one stage never changes another's."""
    words = np.random.SeedSequence([seed, zlib.crc32(stage.encode()), *index]).generate_state(2, np.uint32)
    return torch.Generator().manual_seed(int(words[0]) << 31 ^ int(words[1]))
