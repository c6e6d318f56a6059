"""The gradient base: per-channel attributions ``[B,C,H,W]`` from input gradients, reduced to maps.

Path methods (IG, SmoothGrad, Blur IG, ...) go through :meth:`GradientRun.integrate`: all images'
path points are enumerated and evaluated ``batch_size`` at a time, each row scored for its own
image's target, so a batch never mixes images' paths and no step is a forward of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Literal

import torch
from pydantic import Field, field_validator

from perturbx.explainer import Explainer
from perturbx.explanation import Explanation
from perturbx.models.adapter import ModelAdapter
from perturbx.targets import Targets, TargetSpec, check_target, class_targets, resolve_targets
from perturbx.wrappers.scoring import input_gradients

Reduce = Literal["sum", "abs_sum", "abs_max", "max"]
PointMaker = Callable[[int, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def reduce_channels(attributions: torch.Tensor, how: Reduce) -> torch.Tensor:
    """``[B,C,H,W]`` → ``[B,1,H,W]``: signed sum, sum of magnitudes, max magnitude, or signed max."""
    if how == "sum":
        return attributions.sum(dim=1, keepdim=True)
    if how == "abs_sum":
        return attributions.abs().sum(dim=1, keepdim=True)
    if how == "abs_max":
        return attributions.abs().amax(dim=1, keepdim=True)
    return attributions.amax(dim=1, keepdim=True)


@dataclass
class GradientRun:
    """One explanation in progress: the adapter, the images on its device, and the query count."""

    adapter: ModelAdapter
    x: torch.Tensor
    batch_size: int
    targets: Targets | None = None
    n_queries: int = 0
    create_graph: bool = False

    def resolve(self, target: TargetSpec) -> Targets:
        """Class indices as given (the adapter checks their range at the first call); the predicted class or
        callable targets from one inference pass over the images."""
        check_target(target, self.x.shape[0])
        self.targets = class_targets(target, self.x.shape[0])
        if self.targets is None:
            self.targets = resolve_targets(target, self.adapter(self.x))
            self.n_queries += self.x.shape[0]
        return self.targets

    def gradients(self, inputs: torch.Tensor, owners: list[int]) -> torch.Tensor:
        """Gradients of each row's target score (row ``i`` belongs to image ``owners[i]``)."""
        grads, _ = input_gradients(self.adapter, inputs, [self.targets.fns[b] for b in owners], self.create_graph)
        self.n_queries += inputs.shape[0]
        return grads

    def integrate(self, n_points: int, make: PointMaker, squares: bool = False) -> tuple[torch.Tensor, ...]:
        """Σ_i coeff_i ⊙ ∇f(point_i) per image (and Σ coeff_i ⊙ ∇f², when ``squares``).

        ``make(b, steps)`` returns the points ``[k,C,H,W]`` of image ``b`` at the (increasing) step
        indices ``steps`` and their coefficients (broadcastable to the points).
        """
        total = torch.zeros_like(self.x)
        total_sq = torch.zeros_like(self.x) if squares else None
        rows = [(b, i) for b in range(self.x.shape[0]) for i in range(n_points)]
        for start in range(0, len(rows), self.batch_size):
            chunk = rows[start : start + self.batch_size]
            points, coeffs, owners = [], [], []
            for b in dict.fromkeys(b for b, _ in chunk):
                steps = torch.tensor([i for o, i in chunk if o == b])
                p, c = make(b, steps)
                points.append(p)
                coeffs.append(torch.as_tensor(c, dtype=p.dtype, device=p.device).expand_as(p))
                owners += [b] * len(steps)
            grads = self.gradients(torch.cat(points), owners)
            coeff = torch.cat(coeffs).to(grads.device)
            index = torch.tensor(owners, device=grads.device)
            total = total.index_add(0, index, coeff * grads)
            if total_sq is not None:
                total_sq = total_sq.index_add(0, index, coeff * grads.pow(2))
        return (total, total_sq) if squares else (total,)


class GradientExplainer(Explainer):
    """Base of gradient methods: subclasses implement :meth:`attributions`.

    Gradients are those of the adapter's output mode w.r.t. the un-normalised image in [0,1] (pass
    ``ModelAdapter(model, output="logit")`` for logits). ``exp.meta["attributions"]`` holds the
    per-channel attributions; ``exp.maps`` their channel reduction ``reduce``.

    With ``create_graph=True`` the maps (and attributions) stay in autograd's graph, on the model's
    device and in the input's dtype, so a loss on them trains the model or differentiates w.r.t. ``x``.
    """

    reduce: Reduce = Field("sum", description="channel reduction: sum (signed), abs_sum, abs_max or max")
    create_graph: bool = Field(False, description="differentiable maps (for training with attribution losses)")

    not_differentiable: ClassVar[str] = ""  # why a method cannot give differentiable maps, when it cannot

    @field_validator("create_graph")
    @classmethod
    def _differentiable(cls, value: bool) -> bool:
        return check_create_graph(cls, value)

    def attributions(self, run: GradientRun, target: TargetSpec) -> torch.Tensor:
        """Per-channel attributions ``[B,C,H,W]``; must set ``run.targets``."""
        raise NotImplementedError

    def attribute(self, adapter: ModelAdapter, x: torch.Tensor, target: TargetSpec) -> Explanation:
        size = adapter.plan(tuple(x.shape[1:]))[0]
        run = GradientRun(adapter, x.to(adapter.device), max(1, size), create_graph=self.create_graph)
        with torch.set_grad_enabled(self.create_graph or torch.is_grad_enabled()):
            attributions = self.attributions(run, target)
            maps = reduce_channels(attributions, self.reduce)
        if not self.create_graph:
            attributions, maps = attributions.detach().cpu(), maps.detach().float().cpu()
        return Explanation(
            maps=maps,
            targets=run.targets.classes,
            n_queries=run.n_queries,
            method=self.name,
            meta={"attributions": attributions, "reduce": self.reduce},
        )


def check_create_graph(cls: type[Explainer], value: bool) -> bool:
    """Refuse ``create_graph=True`` on a method that cannot give differentiable maps, saying why."""
    reason = getattr(cls, "not_differentiable", "")
    if value and reason:
        raise ValueError(f"{cls.name} cannot give differentiable maps: {reason}")
    return value
