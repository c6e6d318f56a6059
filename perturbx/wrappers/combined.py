"""Any gradient map times any CAM map (Guided Grad-CAM is guided backprop × Grad-CAM)."""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import Field, field_validator

from perturbx import registry
from perturbx.explainer import Explainer
from perturbx.explanation import Explanation
from perturbx.models.adapter import ModelAdapter
from perturbx.registry import register
from perturbx.targets import TargetSpec
from perturbx.wrappers.cam_base import minmax

Norm = Literal["minmax", "max_abs", "none"]


def normalise_map(maps: torch.Tensor, how: Norm) -> torch.Tensor:
    """Per image: min-max to [0,1], division by the largest magnitude (keeps signs), or nothing."""
    if how == "minmax":
        return minmax(maps)
    if how == "max_abs":
        return maps / (maps.abs().amax(dim=(1, 2, 3), keepdim=True) + 1e-12)
    return maps


@register("combined", paper="Selvaraju et al. 2017 (Guided Grad-CAM), generalised to any gradient × CAM pair")
class Combined(Explainer):
    """map = ReLU(norm(gradient map) × norm(CAM map)) (ReLU optional), then min-max normalised
    (optional). Both explainers see the same images and targets; their queries add up."""

    gradient: Explainer = Field(default_factory=lambda: registry.build("explainer", "guided_backprop"))
    cam: Explainer = Field(default_factory=lambda: registry.build("explainer", "gradcam"))
    gradient_norm: Norm = Field("minmax", description="normalisation of the gradient map before the product")
    cam_norm: Norm = Field("none", description="normalisation of the CAM map before the product")
    relu: bool = Field(True, description="keep only the positive part of the product")
    normalise: bool = Field(True, description="min-max normalise the product")

    @field_validator("gradient", "cam", mode="before")
    @classmethod
    def _build(cls, value: Any, info: Any) -> Any:
        return registry.build("explainer", value, where=info.field_name)

    def check(self, adapter: ModelAdapter, x: torch.Tensor) -> None:
        self.gradient.check(adapter, x)
        self.cam.check(adapter, x)

    def attribute(self, adapter: ModelAdapter, x: torch.Tensor, target: TargetSpec) -> Explanation:
        grad = self.gradient.attribute(adapter, x, target)
        cam = self.cam.attribute(adapter, x, grad.targets if grad.targets is not None else target)
        maps = normalise_map(grad.maps, self.gradient_norm) * normalise_map(cam.maps, self.cam_norm)
        if self.relu:
            maps = maps.clamp(min=0)
        if self.normalise:
            maps = minmax(maps)
        return Explanation(
            maps=maps,
            targets=grad.targets,
            n_queries=grad.n_queries + cam.n_queries,
            method=self.name,
            meta={"gradient": grad.maps, "cam": cam.maps, **{f"cam_{k}": v for k, v in cam.meta.items()}},
        )


@register("guided_gradcam", paper="Selvaraju et al. 2017, Grad-CAM (ICCV): Guided Grad-CAM")
class GuidedGradCAM(Combined):
    """Guided backprop × Grad-CAM (the defaults of :class:`Combined`)."""
