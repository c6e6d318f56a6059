"""The unit of work of an experiment and the worker that runs it: every metric on every image of a chunk
for one explainer. The local engine runs one worker in-process; the Ray engine runs one per actor."""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from perturbx.datasets import Dataset, Item
from perturbx.errors import PerturbxError
from perturbx.metrics.evaluator import evaluate
from perturbx.metrics.results import Results
from perturbx.models.adapter import ModelAdapter

if TYPE_CHECKING:  # experiments imports this module
    from perturbx.experiments.config import Experiment


@dataclass(frozen=True)
class Unit:
    """Images ``indices`` of the dataset, explained by the explainer ``explainer``."""

    indices: tuple[int, ...]
    explainer: str


@dataclass
class Pair:
    """One finished (image, explainer) pair: its rows and curves, its seconds, and where it ran."""

    image: str
    explainer: str
    results: Results
    seconds: float
    worker: str


def pick_device(name: str | torch.device | None) -> torch.device:
    """``auto`` (or None) is CUDA when present, else the CPU; anything else must exist on this machine."""
    if name is None or str(name) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError, ValueError):
        raise PerturbxError(f"--device: unknown device {str(name)!r} (use auto, cpu, cuda, cuda:N or mps)") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise PerturbxError(f"--device: {str(name)!r} requested but CUDA is not available on this machine")
        if device.index is not None and device.index >= count:
            raise PerturbxError(f"--device: {str(name)!r} requested but this machine has {count} CUDA device(s)")
    elif device.type == "mps":
        if not torch.backends.mps.is_available():
            raise PerturbxError(f"--device: {str(name)!r} requested but MPS is not available on this machine")
    elif device.type != "cpu":
        raise PerturbxError(f"--device: {str(name)!r} cannot run a model here (use auto, cpu, cuda, cuda:N or mps)")
    return device


def target_of(experiment: Experiment, item: Item) -> int | None:
    """The class explained for ``item``: its label, a fixed class, or None (the predicted class)."""
    target = experiment.spec.target
    return item.label if target == "label" else None if target == "predicted" else target


def worker_name(device: torch.device | str) -> str:
    """Where a worker runs, as ``host:pid:device`` (rows and the Ray timeline name it so)."""
    return f"{socket.gethostname()}:{os.getpid()}:{device}"


class Worker:
    """Holds the experiment, its dataset and the model (loaded once, with its tuned plan) and runs units."""

    def __init__(self, experiment: Experiment, dataset: Dataset, device: str | torch.device | None = "auto",
                 batch_size: int | str = "auto") -> None:
        self.experiment = experiment
        self.dataset = dataset
        self.device = pick_device(device)
        spec = experiment.spec
        self.adapter = ModelAdapter(spec.model.load(self.device), output=spec.output, precision=spec.precision,
                                    batch_size=batch_size, progress=False)  # the runner shows its own bar
        self.name = worker_name(self.device)

    @classmethod
    def build(cls, data: dict[str, Any], root: str, device: str | None, batch_size: int | str = "auto",
              dataset: Dataset | None = None) -> Worker:
        """A worker rebuilt from the experiment mapping (how a Ray actor makes its own), on ``dataset`` as the
        driver opened and checked it (else opened again here)."""
        from perturbx.experiments.config import load_experiment

        experiment = load_experiment(data, root=Path(root))
        opened = dataset if dataset is not None else experiment.spec.dataset.open(experiment.root)
        return cls(experiment, opened, device, batch_size)

    def run(self, unit: Unit) -> list[Pair]:
        """Every metric on each image of the unit, for its explainer; rows carry the precision used."""
        spec = self.experiment.spec
        explainer = {unit.explainer: self.experiment.explainers[unit.explainer]}
        pairs = []
        for item in self.dataset.items(unit.indices):
            start = time.perf_counter()
            results = evaluate(self.adapter, item.image, explainer, self.experiment.metrics,
                               target=target_of(self.experiment, item), regions=item.mask)
            for row in results.rows:
                row["precision"] = spec.precision
            pairs.append(Pair(item.id, unit.explainer, results, time.perf_counter() - start, self.name))
        return pairs
