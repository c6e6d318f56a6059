"""Gradient and CAM explainers as single-stage pipelines."""

from perturbx.registry import load_package

__all__ = load_package(__name__, globals())
