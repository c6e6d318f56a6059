"""Shared fixtures: tiny models whose answers are known, and an isolated tuning cache."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import perturbx as px


@pytest.fixture(autouse=True, scope="session")
def _tuning_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    mp = pytest.MonkeyPatch()
    mp.setenv("PERTURBX_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    yield
    mp.undo()


def grid_rise(**params: object) -> px.Pipeline:
    """RISE on a hard 4×4 grid with Bernoulli masks, a black fill and seed 0; ``params`` override any stage."""
    stages = {"segmenter": {"name": "grid", "cells": 4}, "sampler": "bernoulli", "substrate": "constant",
              "attributor": "rise", "seed": 0}
    return px.Pipeline(**{**stages, **params})


class RegionModel(nn.Module):
    """Output 0 is the mean of channel 0 over ``rows × cols``; output 1 is constant zero."""

    def __init__(self, rows: slice, cols: slice) -> None:
        super().__init__()
        self.rows, self.cols = rows, cols
        self.scale = nn.Parameter(torch.ones(()))  # gives the model a parameter to check for state

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        region = x[:, 0, self.rows, self.cols].mean(dim=(1, 2)) * self.scale
        return torch.stack([region, torch.zeros_like(region)], dim=1)


class TinyCNN(nn.Module):
    """A small random CNN for 3×32×32 images with 5 classes; has BatchNorm and Dropout (mode matters)."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.Conv2d(8, 16, 3, stride=2, padding=1),
            nn.ReLU(),
        )
        self.dropout = nn.Dropout(0.5)
        self.fc = nn.Linear(16, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.features(x).mean(dim=(2, 3))))


class CountingModel(nn.Module):
    """Wraps a model, records the size of every batch it sees, and can fail on the k-th call."""

    def __init__(self, inner: nn.Module, fail_on_call: int | None = None) -> None:
        super().__init__()
        self.inner = inner
        self.batches: list[int] = []
        self.fail_on_call = fail_on_call

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.batches.append(x.shape[0])
        if self.fail_on_call is not None and len(self.batches) >= self.fail_on_call:
            raise RuntimeError("model failed on purpose")
        return self.inner(x)


@pytest.fixture
def images() -> torch.Tensor:
    return torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))


@pytest.fixture
def one_thread() -> None:
    """Hundreds of tiny solves: thread start-up, not arithmetic, would dominate on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def tiny_cnn() -> TinyCNN:
    return TinyCNN().eval()


@pytest.fixture(scope="session")
def real_model() -> nn.Module:
    import perturbx as px

    return px.models.load("efficientnet_lite0")
