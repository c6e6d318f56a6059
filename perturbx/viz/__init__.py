"""Pictures of explanations (matplotlib)."""

from perturbx.viz.overlay import explanation_figure, overlay, save

__all__ = ["explanation_figure", "overlay", "save"]
