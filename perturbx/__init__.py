"""perturbx: attribution maps for PyTorch image classifiers, from interchangeable stages."""

from perturbx import attributors, data, models, samplers, segmenters, substrates
from perturbx.errors import ConfigError, PerturbxError
from perturbx.explainer import Explainer
from perturbx.explanation import Explanation, FeatureScores
from perturbx.metrics.evaluator import evaluate as evaluate
from perturbx.models import ModelAdapter
from perturbx.pipelines import ExplainConfig, Pipeline, load, load_config
from perturbx.registry import build, catalogue, register

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "ExplainConfig",
    "Explainer",
    "Explanation",
    "FeatureScores",
    "ModelAdapter",
    "PerturbxError",
    "Pipeline",
    "attributors",
    "build",
    "catalogue",
    "data",
    "load",
    "load_config",
    "models",
    "register",
    "samplers",
    "segmenters",
    "substrates",
]
