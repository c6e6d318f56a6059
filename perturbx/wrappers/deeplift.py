"""DeepLIFT (rescale rule) and DeepLIFT-SHAP: contributions relative to reference images, from one
forward and backward of the images and their references together."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from perturbx.models.adapter import ModelAdapter
from perturbx.registry import register
from perturbx.targets import TargetSpec, resolve_targets
from perturbx.wrappers.baselines import Baseline, check_baseline, make_baseline, make_baseline_set
from perturbx.wrappers.gradient_base import GradientExplainer, GradientRun
from perturbx.wrappers.rescale import rescaled
from perturbx.wrappers.scoring import graph_input, row_scores

MaxPoolRule = Literal["rescale", "gradient"]
MAXPOOL = Field("rescale", description="max-pooling: rescale (exact summation to delta) or gradient")


def deeplift(
    run: GradientRun, refs: torch.Tensor, target: TargetSpec, maxpool: MaxPoolRule = "rescale"
) -> torch.Tensor:
    """Mean over the references ``refs [B,K,C,H,W]`` of each image's DeepLIFT contributions
    ``(x − r) ⊙ m(x, r)``; every (image, reference) pair is a row, ``run.batch_size`` rows per call.
    Rows go reference by reference, so when the first call holds every image its outputs resolve the
    targets (no separate inference pass)."""
    b, k = refs.shape[:2]
    rows = [(i, j) for j in range(k) for i in range(b)]
    if run.batch_size < b:
        run.resolve(target)
    total = torch.zeros_like(run.x)
    with rescaled(run.adapter.model, maxpool=maxpool == "rescale"):
        for start in range(0, len(rows), run.batch_size):
            chunk = rows[start : start + run.batch_size]
            owners = torch.tensor([i for i, _ in chunk], device=run.x.device)
            xs = run.x[owners]
            delta = xs - refs[owners, torch.tensor([j for _, j in chunk], device=run.x.device)]
            with torch.enable_grad():
                inputs = graph_input(torch.cat([xs, xs - delta]), run.create_graph)
                outputs = run.adapter.forward(inputs)
                if run.targets is None:  # the first rows are images 0 … B−1 with their first reference
                    run.targets = resolve_targets(target, outputs[:b].detach())
                fns = [run.targets.fns[i] for i, _ in chunk]
                scores = row_scores(outputs, fns + fns)  # both halves, as Captum does
                (grads,) = torch.autograd.grad(scores.sum(), inputs, create_graph=run.create_graph)
            total = total.index_add(0, owners, delta * grads[: len(chunk)] / k)
            run.n_queries += 2 * len(chunk)
    return total


@register(
    "deeplift",
    paper="Shrikumar et al. 2017, Learning Important Features Through Propagating Activation Differences (ICML)",
)
class DeepLift(GradientExplainer):
    """Contributions (x − r) ⊙ m, with the multiplier m of every element-wise activation module replaced
    by Δout/Δin between image and reference (rescale rule). Max-pooling: ``rescale`` splits
    y − y_ref between the two arg-maxes (Captum's documented rule), so the contributions sum to
    f(x) − f(r) exactly (summation to delta) when every nonlinearity is such a module;
    ``gradient`` uses the pool's gradient (the original DeepLIFT code's default, and what Captum
    0.9 computes when a ReLU module feeds the pool). Unlike Captum, ReLU6, GELU, SiLU, Hardswish
    and the other element-wise activations are rescaled too (Captum back-propagates plain
    gradients through them); functional activations and softmax are differentiated as they are."""

    baseline: Baseline = Field("zeros", description="reference: name, number, image [C,H,W] or one per image")
    blur_sigma: float = Field(10.0, gt=0, description="σ in pixels of the blur baseline")
    maxpool: MaxPoolRule = MAXPOOL

    def check(self, adapter: ModelAdapter, x: torch.Tensor) -> None:
        check_baseline(self.baseline, x)

    def attributions(self, run: GradientRun, target: TargetSpec) -> torch.Tensor:
        return deeplift(run, make_baseline(self.baseline, run.x, self.blur_sigma)[:, None], target, self.maxpool)


@register(
    "deeplift_shap",
    paper="Lundberg & Lee 2017, A Unified Approach to Interpreting Model Predictions (NeurIPS), DeepSHAP",
)
class DeepLiftShap(GradientExplainer):
    """DeepLIFT averaged over a set of references (e.g. training images): approximate SHAP values
    whose sum is f(x) − mean_k f(r_k). ``baselines`` is a tensor ``[K,C,H,W]`` or one reference
    (a name, number or ``[C,H,W]`` image, which makes this plain DeepLIFT)."""

    baselines: Baseline = Field("zeros", description="reference images [K,C,H,W], or one reference")
    maxpool: MaxPoolRule = MAXPOOL

    def check(self, adapter: ModelAdapter, x: torch.Tensor) -> None:
        make_baseline_set(self.baselines, x[:1])

    def attributions(self, run: GradientRun, target: TargetSpec) -> torch.Tensor:
        return deeplift(run, make_baseline_set(self.baselines, run.x), target, self.maxpool)
