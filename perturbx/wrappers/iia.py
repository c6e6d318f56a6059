"""Iterated Integrated Attributions for CNNs: integrate along the input path and, nested, along the
activation path at one feature layer (single form) or two (triple form), all path points batched."""

from __future__ import annotations

import itertools
from contextlib import ExitStack

import torch
from pydantic import Field

from perturbx.errors import PerturbxError
from perturbx.explainer import Explainer
from perturbx.explanation import Explanation
from perturbx.models.adapter import ModelAdapter
from perturbx.registry import register
from perturbx.targets import TargetSpec, resolve_targets
from perturbx.wrappers.cam_base import minmax, resize
from perturbx.wrappers.hooks import hooked
from perturbx.wrappers.layers import Layer, LayersSpec, resolve_layers
from perturbx.wrappers.scoring import row_scores


@register("iia", paper="Barkan et al. 2023, Visual Explanations via Iterated Integrated Attributions (ICCV)")
class IIA(Explainer):
    """Map = Σ over α (input x·α), β (activations of the split layer scaled by β) [and γ at a second,
    deeper layer] of ReLU(a) ⊙ ∂y/∂a at the deepest split layer, summed over channels, resized and
    min-max normalised. Path points α, β, γ ∈ {1/n, …, 1} (zero baseline). One layer gives the
    single form (n² points per image), two layers the triple form (n³). Default layer: the CAM default
    (the last feature layer)."""

    layers: LayersSpec = Field(None, description="one or two split layers (shallow first); None: the CAM default")
    steps: int = Field(10, ge=1, description="points per path")

    def check(self, adapter: ModelAdapter, x: torch.Tensor) -> None:
        if len(resolve_layers(adapter.model, self.layers)) > 2:
            raise PerturbxError("layers: IIA takes one layer (single form) or two (triple form)")

    def attribute(self, adapter: ModelAdapter, x: torch.Tensor, target: TargetSpec) -> Explanation:
        layers = resolve_layers(adapter.model, self.layers)
        size = adapter.plan(tuple(x.shape[1:]))[0]
        x = x.to(adapter.device)
        targets = resolve_targets(target, adapter(x))
        alphas = torch.arange(1, self.steps + 1, dtype=x.dtype, device=x.device) / self.steps
        grid = torch.tensor(list(itertools.product(range(self.steps), repeat=1 + len(layers))), device=x.device)
        maps = []
        for b in range(x.shape[0]):
            total = None
            for chunk in grid.split(max(1, size)):
                part = self._accumulate(adapter, x[b], alphas[chunk], layers, targets.fns[b])
                total = part if total is None else total + part
            maps.append(total)
        maps = minmax(resize(torch.stack(maps), tuple(x.shape[-2:])))
        return Explanation(
            maps=maps[:, None].float().cpu(),
            targets=targets.classes,
            n_queries=x.shape[0] * (1 + len(grid)),
            method=self.name,
            meta={"layers": [layer.name for layer in layers], "points_per_image": len(grid)},
        )

    def _accumulate(self, adapter: ModelAdapter, image: torch.Tensor, factors: torch.Tensor, layers: list[Layer],
                    fn: object) -> torch.Tensor:
        """Σ_rows Σ_c ReLU(a) ⊙ ∂y/∂a at the deepest layer, for rows with (α, β[, γ]) = ``factors``."""
        scaled: list[torch.Tensor] = []

        def scale(column: int):
            def hook(module: object, inputs: object, out: torch.Tensor) -> torch.Tensor:
                factor = factors[:, column].view(-1, *([1] * (out.dim() - 1))).to(out.dtype)
                scaled.append(out * factor)
                return scaled[-1]
            return hook

        inputs = (factors[:, 0].view(-1, 1, 1, 1) * image[None]).detach().requires_grad_(True)
        with ExitStack() as stack, torch.enable_grad():
            for column, layer in enumerate(layers, start=1):
                stack.enter_context(hooked(layer.module, scale(column)))
            scores = row_scores(adapter.forward(inputs), [fn] * len(inputs))
            (grad,) = torch.autograd.grad(scores.sum(), scaled[-1])
        deepest = layers[-1]
        acts, grads = deepest.to_maps(scaled[-1].detach()), deepest.to_maps(grad)
        return (acts.clamp(min=0) * grads).sum(dim=(0, 1))
