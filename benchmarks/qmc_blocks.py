"""RISE designs at equal queries on a cheap smooth model (64x64, 7x7 shifted bilinear cells, 2,048 masks,
8 seeds): relative L2 distance to the mean of three 20,000-mask maps and the stopping rule's estimated relative error
max(stderr) / range, for i.i.d., antithetic and scrambled-Sobol masks in blocks of 64 and 256.

    python benchmarks/qmc_blocks.py
"""

from __future__ import annotations

import time

import torch

import perturbx as px

H = 64


class SmoothModel(torch.nn.Module):
    """Two smooth random weight patterns and their product: a map with structure, at almost no cost."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        up = torch.nn.functional.interpolate
        self.w1 = up(torch.randn(1, 1, 4, 4), size=(H, H), mode="bilinear")[0, 0]
        self.w2 = up(torch.randn(1, 1, 4, 4), size=(H, H), mode="bilinear")[0, 0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = x.mean(1)
        a, b = (g * self.w1).mean((1, 2)) * 4, (g * self.w2).mean((1, 2)) * 4
        return torch.stack([torch.tanh(a + a * b), -a], 1)


def main() -> None:
    x = torch.rand(1, 3, H, H, generator=torch.Generator().manual_seed(1))
    adapter = px.ModelAdapter(SmoothModel(), progress=False)

    def run(sampler: object, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        pipeline = px.Pipeline(segmenter={"name": "grid", "cells": 7, "edges": "bilinear", "shift": True},
                               sampler=sampler, substrate={"name": "constant", "color": 0.0}, attributor="rise",
                               n_samples=n, seed=seed)
        explanation = pipeline.explain(adapter, x, 0)
        return explanation.maps[0, 0].double(), explanation.stderr[0, 0].double()

    reference = torch.stack([run("bernoulli", 20000, 100 + k)[0] for k in range(3)]).mean(0)
    designs = ["bernoulli", "antithetic", {"name": "qmc", "block": 64}, {"name": "qmc", "block": 256}]
    for sampler in designs:
        start, l2, error = time.perf_counter(), [], []
        for seed in range(8):
            saliency, stderr = run(sampler, 2048, seed)
            l2.append(float((saliency - reference).norm() / reference.norm()))
            error.append(float(stderr.max() / (saliency.max() - saliency.min())))
        print(f"{sampler!s:<40} rel. L2 {sum(l2) / 8:.4f}   estimated rel. error {sum(error) / 8:.4f}   "
              f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
