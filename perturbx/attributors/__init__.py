"""Attributors: turn perturbation outcomes into feature scores and pixel maps."""

from perturbx.registry import load_package

__all__ = load_package(__name__, globals())
