"""Views: copies of the image the model is shown (shifted, ...), each job's map brought back to the image."""

from perturbx.registry import load_package

__all__ = load_package(__name__, globals())
