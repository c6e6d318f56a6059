"""Segmenters: split an image into features with (optionally smooth-edged) masks."""

from perturbx.registry import load_package

__all__ = load_package(__name__, globals())
