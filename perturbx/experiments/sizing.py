"""Sizing before running (``perturbx evaluate --dry-run``): model queries counted on the first image,
one forward pass timed, and from them the whole experiment's queries, time per worker count and disk."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import torch

from perturbx.engines.work import target_of
from perturbx.experiments.config import Experiment
from perturbx.metrics.evaluator import evaluate
from perturbx.models.adapter import ModelAdapter

WORKER_COUNTS = (1, 2, 4, 8)


@dataclass
class Sizing:
    """Queries per image for each explainer (with its metrics), seconds per image of one forward pass and of
    the whole first image, stored bytes per pair, and the number of images."""

    images: int
    queries: dict[str, int]
    forward_seconds: float
    first_image_seconds: float
    bytes_per_pair: float
    device: str

    @property
    def total_queries(self) -> int:
        """Model queries of the whole experiment (explainers and metrics)."""
        return self.images * sum(self.queries.values())

    def format(self) -> str:
        """The sizing as a few lines for the terminal."""
        model_time = self.total_queries * self.forward_seconds
        measured = self.images * self.first_image_seconds
        lines = [f"sizing on {self.device}, counted on the first image:"]
        lines += [f"  {name}: {n} model queries per image" for name, n in self.queries.items()]
        lines.append(f"  total: {self.total_queries:,} model queries over {self.images} images; one forward pass "
                     f"takes {self.forward_seconds * 1e3:.2f} ms per image")
        lines.append("  time with 1/2/4/8 workers: "
                     + " / ".join(f"{_duration(measured / w)}" for w in WORKER_COUNTS)
                     + f" (the first image's time; forward passes alone: {_duration(model_time)} on one worker)")
        pairs = self.images * len(self.queries)
        lines.append(f"  disk: about {_size(pairs * self.bytes_per_pair)} of rows and curves ({pairs} pairs)")
        return "\n".join(lines)


def size(experiment: Experiment, device: torch.device) -> Sizing:
    """Run every explainer and metric on the first image with a query counter, and time one forward pass."""
    dataset = experiment.spec.dataset.open(experiment.root)
    item = dataset.item(0)
    spec = experiment.spec
    model = spec.model.load(device)
    adapter = ModelAdapter(model, output=spec.output, precision=spec.precision, batch_size=spec.engine.batch_size,
                           progress=False)
    counted = [0]

    def count(_module: torch.nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        counted[0] += int(inputs[0].shape[0])

    forward = _forward_seconds(adapter, item.image)  # plans (and tunes) first, so tuning is not counted
    queries, stored = {}, 0
    hook = model.register_forward_pre_hook(count)
    start = time.perf_counter()
    try:
        for name, explainer in experiment.explainers.items():
            counted[0] = 0
            results = evaluate(adapter, item.image, {name: explainer}, experiment.metrics,
                               target=target_of(experiment, item), regions=item.mask)
            queries[name] = counted[0]
            stored += len(json.dumps(results.rows, default=str))
            stored += sum(len(json.dumps([c.x.tolist(), c.y.tolist()])) for c in results.curves.values())
    finally:
        hook.remove()
    first = time.perf_counter() - start
    return Sizing(len(dataset), queries, forward, first, stored / max(len(queries), 1), str(device))


def _forward_seconds(adapter: ModelAdapter, image: torch.Tensor) -> float:
    """Seconds per image of one forward pass at the adapter's planned batch size (after one warm-up)."""
    shape = tuple(image.shape[1:])
    with adapter.session(shape), torch.inference_mode():
        batch_size, _ = adapter.plan(shape)
        batch = image.expand(batch_size, *shape).contiguous()
        adapter.forward(batch)
        start = time.perf_counter()
        adapter.forward(batch)
        if batch.device.type == "cuda" or adapter.device.type == "cuda":
            torch.cuda.synchronize()
        return (time.perf_counter() - start) / batch_size


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.{1 if seconds < 10 else 0}f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"
