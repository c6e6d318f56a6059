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
from perturbx.substrates.base import Fill
from perturbx.targets import ScoreFn


@dataclass
class Job:
    """One partition of one view of one image: what the model sees, its features, the design and the fill."""

    image: torch.Tensor
    segmentation: Segmentation
    coalitions: Coalitions
    fill: Fill
    view: int = 0


def run(
    job: Job,
    accumulator: Accumulator,
    adapter: ModelAdapter,
    score: ScoreFn,
    batch_size: int,
    bar: tqdm | None = None,
    stop: Stop | None = None,
) -> int:
    """Feed the coalitions of ``job`` through the model in chunks into ``accumulator``; return the queries.

    ``bar`` counts queries; each job adds its own to the bar's total as it starts. With a stopping rule,
    chunks end at its checkpoints and the job stops at the first one the rule accepts (a fixed design
    always runs to the end: it is exact); the bar's total then drops the rows left unqueried.
    """
    device = adapter.device
    z_all = job.coalitions.z
    total = z_all.shape[0]
    if bar is not None:
        bar.total = (bar.total or 0) + total
        bar.refresh()
    marks = stop.checkpoints(total) if stop is not None and not job.coalitions.fixed else [total]
    start = 0
    with torch.inference_mode():
        for mark in marks:
            for begin in range(start, mark, batch_size):
                index = torch.arange(begin, min(begin + batch_size, mark))
                z = z_all[index].to(device, non_blocking=True)
                keep = job.segmentation.keep_masks(z, index)
                scores = score(adapter.forward(blend(job.image, job.fill(keep), keep)))
                accumulator.update(z, keep, scores)
                if bar is not None:
                    bar.update(len(index))
            start = mark
            if mark < total and stop.met(accumulator.error(stop.measure)):
                break
    if bar is not None and start < total:
        bar.total -= total - start
        bar.refresh()
    return start
