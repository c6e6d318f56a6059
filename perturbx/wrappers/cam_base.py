"""The CAM base: one forward (and backward) with the target layers recorded, then a per-method
``cam`` on ``[B,C,h,w]`` activations and gradients; ReLU, per-image min-max and bilinear resize in torch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from pydantic import Field, field_validator

from perturbx.errors import PerturbxError
from perturbx.explainer import Explainer
from perturbx.explanation import Explanation
from perturbx.models.adapter import ModelAdapter
from perturbx.targets import Targets, TargetSpec, resolve_targets
from perturbx.wrappers.gradient_base import check_create_graph
from perturbx.wrappers.hooks import recording
from perturbx.wrappers.layers import Layer, LayersSpec, Layout, resolve_layers
from perturbx.wrappers.scoring import graph_input, row_scores

EPS = 1e-7


@dataclass
class CamContext:
    """What a CAM method may need beyond activations and gradients."""

    adapter: ModelAdapter
    x: torch.Tensor
    targets: Targets
    scores: torch.Tensor
    n_queries: int = 0
    hvps: dict[str, torch.Tensor] = field(default_factory=dict)  # per layer: Hessian of the score · activations


def minmax(maps: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """Per-map ``(m - min) / (max - min + eps)`` over all but the first dimension."""
    flat = maps.flatten(1)
    lo = flat.min(dim=1, keepdim=True).values
    flat = flat - lo
    return (flat / (flat.max(dim=1, keepdim=True).values + eps)).view_as(maps)


def resize(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of ``[B,h,w]`` maps to ``size`` (half-pixel centres, no antialiasing)."""
    if tuple(maps.shape[-2:]) == tuple(size):
        return maps
    return F.interpolate(maps[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]


class CamExplainer(Explainer):
    """Base of CAM methods: subclasses implement :meth:`cam` (and set ``uses_gradients``).

    Per layer: ``cam`` → ReLU → per-image min-max → resize to the input; layers are averaged and
    min-max normalised again (the pytorch-grad-cam convention). With ``normalise=False`` the
    resized ReLU maps are averaged as they are. Gradients are those of the adapter's output mode
    (pass ``ModelAdapter(model, output="logit")`` for the usual logit convention). With
    ``create_graph=True`` the maps stay in autograd's graph (w.r.t. the input and the parameters).
    """

    layers: LayersSpec = Field(None, description="module names or objects; None: the architecture's default")
    layout: Layout = Field("auto", description="layer output layout: auto, nchw, nhwc or tokens")
    normalise: bool = Field(True, description="min-max normalise each layer's map and the result")
    create_graph: bool = Field(False, description="differentiable maps (for training with attribution losses)")

    uses_gradients: ClassVar[bool] = True
    uses_hessian: ClassVar[bool] = False  # also the Hessian-vector product H·A (second-order methods)
    not_differentiable: ClassVar[str] = ""  # why a method cannot give differentiable maps, when it cannot

    @field_validator("create_graph")
    @classmethod
    def _differentiable(cls, value: bool) -> bool:
        return check_create_graph(cls, value)

    @field_validator("layers", mode="before")
    @classmethod
    def _layers(cls, value: Any) -> Any:
        if isinstance(value, list | tuple) and not value:
            raise ValueError("expected at least one layer")
        return value

    def check(self, adapter: ModelAdapter, x: torch.Tensor) -> None:
        resolve_layers(adapter.model, self.layers, self.layout)

    def cam(self, ctx: CamContext, layer: Layer, acts: torch.Tensor, grads: torch.Tensor | None) -> torch.Tensor:
        """The raw map ``[B,h,w]`` of one layer from activations (and gradients) ``[B,C,h,w]``."""
        raise NotImplementedError

    def target_scores(self, outputs: torch.Tensor, targets: Targets) -> torch.Tensor:
        """The scores ``[B]`` whose gradients weigh the activations: each image's target by default."""
        return row_scores(outputs, targets.fns)

    def attribute(self, adapter: ModelAdapter, x: torch.Tensor, target: TargetSpec) -> Explanation:
        with torch.set_grad_enabled(self.create_graph or torch.is_grad_enabled()):
            return self._attribute(adapter, x, target)

    def _attribute(self, adapter: ModelAdapter, x: torch.Tensor, target: TargetSpec) -> Explanation:
        layers = resolve_layers(adapter.model, self.layers, self.layout)
        ctx, acts, grads = forward_layers(
            adapter, x, target, layers, self.uses_gradients, self.create_graph, self.target_scores, self.uses_hessian
        )
        per_layer = []
        for layer, a, g in zip(layers, acts, grads):
            raw = self.cam(ctx, layer, layer.to_maps(a), None if g is None else layer.to_maps(g))
            per_layer.append(raw if self.create_graph else raw.detach().float())
        maps, resized = combine(per_layer, tuple(x.shape[-2:]), self.normalise)
        if not self.create_graph:
            maps, resized = maps.cpu(), resized.cpu()
        meta = {"layers": [layer.name for layer in layers]}
        if len(layers) > 1:
            meta["per_layer"] = resized[:, :, None]  # [layers,B,1,H,W], each as it entered the mean
        return Explanation(
            maps=maps[:, None],
            targets=ctx.targets.classes,
            n_queries=x.shape[0] + ctx.n_queries,
            method=self.name,
            meta=meta,
        )


def forward_layers(
    adapter: ModelAdapter, x: torch.Tensor, target: TargetSpec, layers: list[Layer], gradients: bool,
    create_graph: bool = False, scorer: Callable[[torch.Tensor, Targets], torch.Tensor] | None = None,
    hessian: bool = False,
) -> tuple[CamContext, list[torch.Tensor], list[torch.Tensor | None]]:
    """One forward of ``x`` recording the layers' outputs, targets resolved from it, and (optionally)
    the gradients of the per-image scores (``scorer``, default: the targets) w.r.t. those outputs, and
    with ``hessian`` the products H·A of their Hessians with the outputs (in ``ctx.hvps``). With
    ``create_graph`` nothing is detached and the gradients are themselves differentiable."""
    inputs = x.to(adapter.device)
    if gradients or create_graph:
        inputs = graph_input(inputs, create_graph)  # a graph even when every parameter is frozen
    with torch.set_grad_enabled(gradients or create_graph):
        with recording([layer.module for layer in layers]) as records:
            outputs = adapter.forward(inputs)
        missing = [layer.name for layer, record in zip(layers, records) if not record]
        if missing:
            raise PerturbxError(f"layers: {', '.join(missing)} did not run in the model's forward pass")
        acts = [record[-1] for record in records]
        targets = resolve_targets(target, outputs.detach())
        scores = (scorer or (lambda out, t: row_scores(out, t.fns)))(outputs, targets)
        grads: list[torch.Tensor | None] = [None] * len(layers)
        hvps = {}
        if gradients:
            grads = list(torch.autograd.grad(scores.sum(), acts, allow_unused=True,
                                             create_graph=create_graph or hessian))
            grads = [torch.zeros_like(a) if g is None else g for a, g in zip(acts, grads)]
        if hessian:
            for layer, a, g in zip(layers, acts, grads):
                (hvp,) = torch.autograd.grad(g, a, grad_outputs=a, allow_unused=True, retain_graph=True,
                                             create_graph=create_graph) if g.requires_grad else (None,)
                hvp = torch.zeros_like(a) if hvp is None else hvp
                hvps[layer.name] = layer.to_maps(hvp if create_graph else hvp.detach())
    ctx = CamContext(adapter, inputs if create_graph else x.to(adapter.device), targets, scores.detach(), hvps=hvps)
    if create_graph:
        return ctx, acts, grads
    return ctx, [a.detach() for a in acts], [None if g is None else g.detach() for g in grads]


def combine(
    per_layer: list[torch.Tensor], size: tuple[int, int], normalise: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """ReLU, per-layer min-max and resize, mean over layers, min-max again: ``[B,H,W]``, and the
    resized per-layer maps ``[layers,B,H,W]``."""
    resized = torch.stack([resize(minmax(cam.clamp(min=0)) if normalise else cam.clamp(min=0), size)
                           for cam in per_layer])
    mean = resized.clamp(min=0).mean(dim=0)
    return (minmax(mean) if normalise else mean), resized
