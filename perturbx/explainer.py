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
    Run-time options (``batch_size``, ``progress``) belong to the call, not to the method's spec.
    """

    kind: ClassVar[str] = "explainer"

    @property
    def method(self) -> str:
        """The name every explanation of this explainer carries in ``Explanation.method``."""
        return self.name

    def explain(
        self,
        model: nn.Module | ModelAdapter,
        x: torch.Tensor,
        target: TargetSpec = None,
        *,
        batch_size: int | None = None,
        progress: bool | None = None,
    ) -> Explanation:
        """Explain ``model``'s outputs on images ``x [B,C,H,W]`` in [0,1] for ``target`` (default: predicted
        class). ``batch_size`` (images per model call) and ``progress`` override the adapter's for this call."""
        x = check_images(x)
        check_target(target, x.shape[0])
        adapter = as_adapter(model)
        with adapter.options(batch_size=batch_size, progress=progress):
            self.check(adapter, x)
            with adapter.session():
                explanation = self.attribute(adapter, x, target)
        explanation.method = self.method
        explanation.meta = {"explainer": self.spec(), **explanation.meta}
        return explanation

    def check(self, adapter: ModelAdapter, x: torch.Tensor) -> None:
        """Method-specific validation, before any model query."""

    def attribute(self, adapter: ModelAdapter, x: torch.Tensor, target: TargetSpec) -> Explanation:
        """The method itself: maps for validated images, inside the adapter's session."""
        raise NotImplementedError
