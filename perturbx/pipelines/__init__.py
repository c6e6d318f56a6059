"""Pipelines, configs and YAML loading."""

from perturbx.pipelines.config import ExplainConfig, load, load_config
from perturbx.pipelines.pipeline import Pipeline

__all__ = ["ExplainConfig", "Pipeline", "load", "load_config"]
