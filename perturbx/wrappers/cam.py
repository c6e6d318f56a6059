"""The original CAM: activations weighted by the classifier's weights for the target class."""

from __future__ import annotations

import torch
from pydantic import Field
from torch import nn

from perturbx.errors import PerturbxError
from perturbx.models.adapter import ModelAdapter, as_adapter
from perturbx.registry import register
from perturbx.wrappers.cam_base import CamContext, CamExplainer
from perturbx.wrappers.layers import Layer, core


@register("cam", paper="Zhou et al. 2016, Learning Deep Features for Discriminative Localization (CVPR)")
class CAM(CamExplainer):
    """Map = Σ_c W[k,c] A_c for a network ending in global average pooling and a linear layer whose
    row k scores class k. Targets must be class indices."""

    classifier: str | nn.Module | None = Field(None, description="the final linear layer; None: the last nn.Linear")

    uses_gradients = False
    class_targets_only = "it reads the classifier's weight rows"

    def check(self, adapter: ModelAdapter, x: torch.Tensor) -> None:
        super().check(adapter, x)
        self._linear(as_adapter(adapter).model)

    def _linear(self, model: nn.Module) -> nn.Linear:
        if isinstance(self.classifier, nn.Linear):
            return self.classifier
        if isinstance(self.classifier, str):
            prefix, _ = core(model)
            for name in (self.classifier, prefix + self.classifier):
                try:
                    module = model.get_submodule(name)
                except AttributeError:
                    continue
                if isinstance(module, nn.Linear):
                    return module
            raise PerturbxError(f"classifier: {self.classifier!r} is not an nn.Linear of the model")
        linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
        if not linears:
            raise PerturbxError("classifier: the model has no nn.Linear; CAM needs a GAP-linear head")
        return linears[-1]

    def cam(self, ctx: CamContext, layer: Layer, acts: torch.Tensor, grads: torch.Tensor | None) -> torch.Tensor:
        linear = self._linear(ctx.adapter.model)
        if linear.in_features != acts.shape[1]:
            raise PerturbxError(
                f"layers: {layer.name!r} has {acts.shape[1]} channels but the classifier takes {linear.in_features}"
            )
        weights = linear.weight.detach()[ctx.targets.classes.to(acts.device)].to(acts.dtype)
        return (weights[:, :, None, None] * acts).sum(dim=1)
