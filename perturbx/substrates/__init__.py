"""Substrates: what replaces the pixels a coalition removes."""

from perturbx.registry import load_package

__all__ = load_package(__name__, globals())
