"""Experiments declared in YAML: a dataset, a model, explainers (with sweeps over stage choices) and
metrics; results stored in SQLite as they finish (resumable), summarised with 95% intervals and plotted."""

from perturbx.datasets import Dataset
from perturbx.experiments.config import Experiment, ExperimentSpec, load_experiment
from perturbx.experiments.runner import Outcome, run
from perturbx.experiments.sweep import expand

__all__ = ["Dataset", "Experiment", "ExperimentSpec", "Outcome", "expand", "load_experiment", "run"]
