"""The one interface of every method: ``explain(model, x, target) -> Explanation``."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from perturbx.explanation import Explanation
from perturbx.images import check_images
from perturbx.models.adapter import ModelAdapter, as_adapter
from perturbx.registry import Component
from perturbx.targets import TargetSpec, check_target


class Explainer(Component):
    """Base of perturbation pipelines and of gradient/CAM wrappers.

    :meth:`explain` validates the images and target, wraps the model in an adapter, and runs
    :meth:`attribute` inside the adapter's session, which restores the model whatever happens.
    """

    kind: ClassVar[str] = "explainer"

    def explain(self, model: nn.Module | ModelAdapter, x: torch.Tensor, target: TargetSpec = None) -> Explanation:
        """Explain ``model``'s outputs on images ``x [B,C,H,W]`` in [0,1] for ``target`` (default: predicted class)."""
        x = check_images(x)
        check_target(target, x.shape[0])
        adapter = as_adapter(model)
        self.check(adapter, x)
        with adapter.session():
            return self.attribute(adapter, x, target)

    def check(self, adapter: ModelAdapter, x: torch.Tensor) -> None:
        """Method-specific validation, before any model query."""

    def attribute(self, adapter: ModelAdapter, x: torch.Tensor, target: TargetSpec) -> Explanation:
        """The method itself: maps for validated images, inside the adapter's session."""
        raise NotImplementedError
