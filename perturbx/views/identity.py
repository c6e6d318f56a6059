"""The image itself: one view, nothing to undo."""

from __future__ import annotations

from perturbx.registry import register
from perturbx.views.base import View


@register("identity")
class Identity(View):
    """The model sees the image as given (the default)."""
