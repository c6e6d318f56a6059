"""Finer-CAM: Grad-CAM of the target's score against its most similar classes, for fine-grained maps."""

from __future__ import annotations

import torch
from pydantic import Field

from perturbx.errors import PerturbxError
from perturbx.registry import register
from perturbx.targets import Targets
from perturbx.wrappers.gradcam import GradCAM


@register("finercam", paper="Zhang et al. 2025, Finer-CAM: Spotting the Difference Reveals Finer Details (CVPR)")
class FinerCAM(GradCAM):
    """Grad-CAM of Σ_k p_k (y_t − α y_k) / Σ_k p_k over the ``n_similar`` classes k whose scores are
    closest to the target's y_t, weighted by p = softmax of the adapter's scores (give it logits, as
    the paper does). Suppresses what the target shares with its look-alikes. Class-index targets only."""

    n_similar: int = Field(3, ge=1, description="how many most similar classes to compare against")
    alpha: float = Field(1.0, ge=0, description="strength of the comparison (0: plain Grad-CAM)")

    class_targets_only = "it compares the class with its most similar classes"

    def target_scores(self, outputs: torch.Tensor, targets: Targets) -> torch.Tensor:
        if outputs.shape[1] <= self.n_similar:
            raise PerturbxError(
                f"n_similar: the model has {outputs.shape[1]} classes, so at most "
                f"{outputs.shape[1] - 1} can be compared with the target"
            )
        classes = targets.classes.to(outputs.device)
        main = outputs.gather(1, classes[:, None])
        distance = (outputs - main).abs().detach()
        distance.scatter_(1, classes[:, None], -1.0)  # the target itself sorts first and is skipped
        similar = distance.argsort(dim=1, stable=True)[:, 1 : self.n_similar + 1]
        weights = outputs.softmax(dim=1).gather(1, similar)
        return (weights * (main - self.alpha * outputs.gather(1, similar))).sum(dim=1) / (weights.sum(dim=1) + 1e-9)
