"""Run an experiment: every (image, explainer) pair scored by every metric and stored as it finishes;
then the summary table (printed and CSV), every row as CSV, and the mean-curve plots."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch
import yaml
from tqdm.auto import tqdm

from perturbx.errors import ConfigError
from perturbx.experiments import plots, summary
from perturbx.experiments.config import Experiment, load_experiment
from perturbx.experiments.dataset import Dataset
from perturbx.experiments.store import Store
from perturbx.metrics.evaluator import evaluate
from perturbx.metrics.results import Results
from perturbx.models.adapter import ModelAdapter

DATABASE = "results.sqlite"


@dataclass
class Outcome:
    """What a run left in its folder, and the summary table."""

    out: Path
    table: list[summary.SummaryRow]
    computed: int
    skipped: int


def run(
    config: str | Path,
    out: str | Path,
    resume: bool = False,
    overwrite: bool = False,
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> Outcome:
    """Run (or resume) the experiment of ``config`` into the folder ``out``.

    Everything is validated (config, dataset, labels and masks the target and metrics need) before the
    model is loaded; a finished pair is never computed again, so ``resume=True`` after an interruption
    gives the same table as an uninterrupted run.
    """
    experiment = load_experiment(config)
    dataset = experiment.spec.dataset.load(experiment.root)
    _check(experiment, dataset)
    out = Path(out)
    text = Path(config).read_text()
    store = Store(out / DATABASE, experiment.hash, text, resume=resume, overwrite=overwrite)
    try:
        done = store.done()
        pairs = [(k, name) for k in range(len(dataset)) for name in experiment.explainers
                 if (dataset.ids[k], name) not in done]
        if pairs:
            model = experiment.spec.model.load(device)
            adapter = ModelAdapter(model, output=experiment.spec.output, progress=False)  # the runner's bar only
            with tqdm(pairs, disable=not progress, desc="experiment", unit="pair") as bar:
                for k, name in bar:
                    bar.set_postfix_str(f"{dataset.ids[k]} × {name}"[:60])
                    start = time.perf_counter()
                    results = _score(experiment, dataset, adapter, k, name)
                    store.add(dataset.ids[k], name, results, time.perf_counter() - start)
        rows, curves = store.rows(), store.curves()
    finally:
        store.close()
    names = list(experiment.explainers)
    table = summary.summarise(rows, names)
    summary.write_csv(table, out / "summary.csv")
    Results(rows).to_csv(out / "rows.csv")
    (out / "experiment.yaml").write_text(text)
    plots.save_curves(curves, names, out / "curves.png", title=Path(config).stem)
    return Outcome(out, table, len(pairs), len(dataset) * len(names) - len(pairs))


def _score(experiment: Experiment, dataset: Dataset, adapter: ModelAdapter, k: int, name: str) -> Results:
    """Every metric on one image for one explainer."""
    spec = experiment.spec
    target = dataset.labels[k] if spec.target == "label" else None if spec.target == "predicted" else spec.target
    regions = dataset.masks[k] if dataset.masks is not None else None
    return evaluate(adapter, dataset.images[k], {name: experiment.explainers[name]}, experiment.metrics,
                    target=target, regions=regions)


def _check(experiment: Experiment, dataset: Dataset) -> None:
    """Inputs the target and metrics need, before the model is loaded."""
    if experiment.spec.target == "label" and dataset.labels is None:
        raise ConfigError(f"target: 'label' needs a dataset with labels; the {experiment.spec.dataset.kind} "
                          "dataset has none")
    for i, metric in enumerate(experiment.metrics):
        if "regions" in metric.requires and dataset.masks is None:
            raise ConfigError(f"metrics[{i}]: {metric.name} needs ground-truth masks; the "
                              f"{experiment.spec.dataset.kind} dataset has none")


def describe(experiment: Experiment) -> str:
    """The explainers an experiment expands to, as YAML (for --dry-run)."""
    return yaml.safe_dump({name: e.spec() for name, e in experiment.explainers.items()}, sort_keys=False)
