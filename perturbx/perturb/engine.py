"""The streaming query engine: masks, perturbed images and scores chunk by chunk, never N at once."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from perturbx.attributors.base import Accumulator
from perturbx.models.adapter import ModelAdapter
from perturbx.perturb.blend import blend
from perturbx.perturb.stopping import Stop
from perturbx.samplers.base import Coalitions
from perturbx.segmenters.segmentation import Segmentation
from perturbx.substrates.base import Substrate
from perturbx.targets import ScoreFn


@dataclass
class Job:
    """Everything needed to perturb and score one image."""

    image: torch.Tensor
    segmentation: Segmentation
    coalitions: Coalitions
    substrate: Substrate
    fill: torch.Tensor | None
    score: ScoreFn
    accumulator: Accumulator
    generator: torch.Generator


def run(job: Job, adapter: ModelAdapter, batch_size: int, bar: tqdm | None = None, stop: Stop | None = None) -> int:
    """Feed the coalitions through the model in chunks; return the number of model queries. With a
    stopping rule, chunks end at its checkpoints and the image stops at the first one the rule accepts
    (a fixed design always runs to the end: it is exact)."""
    device = adapter.device
    z_all = job.coalitions.z
    total = z_all.shape[0]
    marks = stop.checkpoints(total) if stop is not None and not job.coalitions.fixed else [total]
    start = 0
    with torch.inference_mode():
        for mark in marks:
            for begin in range(start, mark, batch_size):
                index = torch.arange(begin, min(begin + batch_size, mark))
                z = z_all[index].to(device, non_blocking=True)
                keep = job.segmentation.keep_masks(z, index)
                fill = job.fill if job.fill is not None else job.substrate.fill(job.image, keep, job.generator)
                scores = job.score(adapter.forward(blend(job.image, fill, keep)))
                job.accumulator.update(z, keep, scores)
                if bar is not None:
                    bar.update(len(index))
            start = mark
            if mark < total and stop.met(job.accumulator.error()):
                break
    return start
