"""Samplers: which features each perturbed sample keeps."""

from perturbx.registry import load_package

__all__ = load_package(__name__, globals())
