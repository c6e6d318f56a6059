"""Iterated Integrated Attributions for Vision Transformers: integrate over the input path and over
scaled attention, keep clamp(∂y/∂A ⊙ A, 0) per block, and roll the blocks out."""

from __future__ import annotations

import itertools

import torch
from pydantic import Field

from perturbx.explainer import Explainer
from perturbx.explanation import Explanation
from perturbx.models.adapter import ModelAdapter
from perturbx.registry import register
from perturbx.targets import TargetSpec, resolve_targets
from perturbx.wrappers.attention import attention_modules, attention_probabilities, patch_grid, rollout
from perturbx.wrappers.cam_base import minmax, resize
from perturbx.wrappers.scoring import row_scores


@register("vit_iia", paper="Barkan et al. 2023, Visual Explanations via Iterated Integrated Attributions (ICCV)")
class ViTIIA(Explainer):
    """Rows (α, β) ∈ {1/n, …, 1}²: input α·x, every block's attention probabilities scaled by β; per
    block Σ_rows clamp(∂y/∂A ⊙ A, 0), then rollout (head mean, + identity, row-normalised, product
    over blocks, class-token row over the patches), resized and min-max normalised."""

    steps: int = Field(5, ge=1, description="points per path")

    def check(self, adapter: ModelAdapter, x: torch.Tensor) -> None:
        attention_modules(adapter.model)

    def attribute(self, adapter: ModelAdapter, x: torch.Tensor, target: TargetSpec) -> Explanation:
        size = adapter.plan(tuple(x.shape[1:]))[0]
        x = x.to(adapter.device)
        targets = resolve_targets(target, adapter(x))
        alphas = torch.arange(1, self.steps + 1, dtype=x.dtype, device=x.device) / self.steps
        grid = torch.tensor(list(itertools.product(range(self.steps), repeat=2)), device=x.device)
        relevance = []
        for b in range(x.shape[0]):
            per_block = None
            for chunk in grid.split(max(1, size)):
                part = self._accumulate(adapter, x[b], alphas[chunk], targets.fns[b])
                per_block = part if per_block is None else [p + q for p, q in zip(per_block, part)]
            relevance.append(rollout([p[None] for p in per_block], grid=patch_grid(adapter.model))[0])
        maps = minmax(resize(torch.stack(relevance), tuple(x.shape[-2:])))
        return Explanation(maps=maps[:, None].float().cpu(), targets=targets.classes,
                           n_queries=x.shape[0] * (1 + len(grid)), method=self.name)

    def _accumulate(self, adapter: ModelAdapter, image: torch.Tensor, factors: torch.Tensor,
                    fn: object) -> list[torch.Tensor]:
        """Per block Σ_rows clamp(∂y/∂A ⊙ A, 0) ``[heads,N,N]`` for rows with (α, β) = ``factors``."""
        beta = factors[:, 1].view(-1, 1, 1, 1)
        inputs = (factors[:, 0].view(-1, 1, 1, 1) * image[None]).detach().requires_grad_(True)
        with torch.enable_grad(), attention_probabilities(adapter.model, lambda a: a * beta.to(a.dtype)) as attns:
            scores = row_scores(adapter.forward(inputs), [fn] * len(inputs))
            grads = torch.autograd.grad(scores.sum(), attns)
        return [(g * a.detach()).clamp(min=0).sum(dim=0).float() for g, a in zip(grads, attns)]
