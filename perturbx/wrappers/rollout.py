"""Attention rollout for Vision Transformers (class-agnostic)."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from perturbx.explainer import Explainer
from perturbx.explanation import Explanation
from perturbx.models.adapter import ModelAdapter
from perturbx.registry import register
from perturbx.targets import TargetSpec, resolve_targets
from perturbx.wrappers.attention import attention_modules, attention_probabilities, patch_grid, rollout
from perturbx.wrappers.cam_base import minmax, resize


@register("attention_rollout", paper="Abnar & Zuidema 2020, Quantifying Attention Flow in Transformers (ACL)")
class AttentionRollout(Explainer):
    """Heads fused (mean, max or min), the lowest ``discard_ratio`` of entries dropped, identity added,
    rows normalised, multiplied over blocks; the class token's row over the patches, resized and
    min-max normalised. The map does not depend on the target (which is still resolved and reported)."""

    fusion: Literal["mean", "max", "min"] = Field("mean", description="how heads are fused")
    discard_ratio: float = Field(0.0, ge=0, lt=1, description="share of lowest attention entries set to 0")

    def check(self, adapter: ModelAdapter, x: torch.Tensor) -> None:
        attention_modules(adapter.model)

    def attribute(self, adapter: ModelAdapter, x: torch.Tensor, target: TargetSpec) -> Explanation:
        x = x.to(adapter.device)
        with torch.inference_mode(), attention_probabilities(adapter.model) as records:
            outputs = adapter.forward(x)
        targets = resolve_targets(target, outputs)
        maps = rollout([r.float() for r in records], grid=patch_grid(adapter.model), fusion=self.fusion,
                       discard_ratio=self.discard_ratio)
        maps = minmax(resize(maps, tuple(x.shape[-2:])))
        return Explanation(maps=maps[:, None].cpu(), targets=targets.classes, n_queries=x.shape[0], method=self.name)
