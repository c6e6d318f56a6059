"""Run an experiment: every (image, explainer) pair scored by every metric and stored as it finishes,
wherever the engine runs it; then the summary table (printed and CSV), every row as CSV, and the
mean-curve plots."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml
from tqdm.auto import tqdm

from perturbx.datasets import Dataset
from perturbx.engines.spec import EngineSpec
from perturbx.engines.work import Pair, Unit, Worker, pick_device
from perturbx.errors import ConfigError
from perturbx.experiments import plots, summary
from perturbx.experiments.config import Experiment, load_experiment
from perturbx.experiments.store import Store
from perturbx.metrics.results import Results

DATABASE = "results.sqlite"


@dataclass
class Outcome:
    """What a run left in its folder, the summary table, and how many pairs each worker computed."""

    out: Path
    table: list[summary.SummaryRow]
    computed: int
    skipped: int
    placement: dict[str, int] = field(default_factory=dict)


def run(
    config: str | Path,
    out: str | Path,
    resume: bool = False,
    overwrite: bool = False,
    device: torch.device | str | None = "auto",
    progress: bool = True,
    engine: EngineSpec | dict[str, Any] | None = None,
) -> Outcome:
    """Run (or resume) the experiment of ``config`` into the folder ``out``.

    Everything is validated (config, dataset, labels and masks the target and metrics need, the engine)
    before the model is loaded; a finished pair is never computed again, so ``resume=True`` after an
    interruption gives the same table as an uninterrupted run. ``engine`` overrides fields of the
    config's ``engine:`` block (``{"kind": "ray", "workers": 2}``); the table does not depend on it.
    """
    experiment = load_experiment(config)
    spec = experiment.spec.engine
    if engine is not None:  # the given fields replace the YAML's, the others stay
        given = engine.model_dump(exclude_unset=True) if isinstance(engine, EngineSpec) else engine
        spec = EngineSpec.model_validate({**spec.model_dump(exclude_unset=True), **given})
    dataset = experiment.spec.dataset.open(experiment.root)
    _check(experiment, dataset)
    if spec.kind == "local":
        device = pick_device(device)
    else:
        from perturbx.engines.ray_engine import connect

        connect(spec)  # an unreachable cluster or missing GPUs fail here, before the store is touched
    out = Path(out)
    text = Path(config).read_text()
    names = list(experiment.explainers)
    store = Store(out / DATABASE, experiment.hash, text, resume=resume, overwrite=overwrite)
    try:
        done = store.done()
        units = plan(dataset, names, done, spec.chunk)
        todo = sum(len(u.indices) for u in units)
        with tqdm(total=todo, disable=not progress, desc="experiment", unit="pair") as bar:
            for pairs in _execute(spec, experiment, dataset, device, units):
                for pair in pairs:
                    store.add(pair.image, pair.explainer, pair.results, pair.seconds, pair.worker)
                    bar.set_postfix_str(f"{pair.image} × {pair.explainer}"[:60])
                    bar.update()
        rows, curves = ordered(store.rows(), dataset, names), ordered(store.curves(), dataset, names)
        placement = store.placement()
    finally:
        store.close()
    table = summary.summarise(rows, names)
    summary.write_csv(table, out / "summary.csv")
    Results(rows).to_csv(out / "rows.csv")
    (out / "experiment.yaml").write_text(text)
    plots.save_curves(curves, names, out / "curves.png", title=Path(config).stem)
    return Outcome(out, table, todo, len(dataset) * len(names) - todo, placement)


def plan(dataset: Dataset, names: list[str], done: set[tuple[str, str]], chunk: int) -> list[Unit]:
    """The units still to run: per chunk of images, one unit per explainer, holding the images it lacks."""
    units = []
    for start in range(0, len(dataset), chunk):
        block = range(start, min(start + chunk, len(dataset)))
        for name in names:
            missing = tuple(k for k in block if (dataset.ids[k], name) not in done)
            if missing:
                units.append(Unit(missing, name))
    return units


def ordered(entries: list[dict[str, Any]], dataset: Dataset, names: list[str]) -> list[dict[str, Any]]:
    """Rows (or curves) in dataset order, then explainer order, whatever order the workers finished in, so
    the table is the same for every engine and every interruption."""
    position = {image: k for k, image in enumerate(dataset.ids)}
    rank = {name: k for k, name in enumerate(names)}
    return sorted(entries, key=lambda e: (position.get(e["image"], len(position)), rank.get(e["explainer"], 0)))


def _execute(spec: EngineSpec, experiment: Experiment, dataset: Dataset, device: Any,
             units: list[Unit]) -> Iterator[list[Pair]]:
    """The pairs of every unit, from the engine of ``spec`` (nothing is started when nothing is left)."""
    if not units:
        return iter(())
    if spec.kind == "ray":
        from perturbx.engines.ray_engine import run_ray

        return run_ray(spec, experiment.data, str(experiment.root), None if device is None else str(device), units,
                       dataset)
    worker = Worker(experiment, dataset, device, spec.batch_size)
    return (worker.run(unit) for unit in units)


def _check(experiment: Experiment, dataset: Dataset) -> None:
    """Inputs the target and metrics need, before the model is loaded."""
    if experiment.spec.target == "label" and dataset.labels is None:
        raise ConfigError(f"target: 'label' needs a dataset with labels; the {experiment.spec.dataset.kind} "
                          "dataset has none")
    for i, metric in enumerate(experiment.metrics):
        if "regions" in metric.requires and not dataset.has_masks:
            raise ConfigError(f"metrics[{i}]: {metric.name} needs ground-truth masks; the "
                              f"{experiment.spec.dataset.kind} dataset has none")


def describe(experiment: Experiment) -> str:
    """The explainers an experiment expands to, as YAML (for --dry-run)."""
    return yaml.safe_dump({name: e.spec() for name, e in experiment.explainers.items()}, sort_keys=False)
