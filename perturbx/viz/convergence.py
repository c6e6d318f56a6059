"""How a sampled map converges: its estimated error and its agreement with a reference against queries."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

import torch
from matplotlib.figure import Figure
from pydantic import PrivateAttr
from torch import nn

from perturbx.attributors.base import Accumulator, Attribution, Attributor
from perturbx.attributors.uncertainty import spearman
from perturbx.errors import PerturbxError
from perturbx.models.adapter import ModelAdapter
from perturbx.perturb.stopping import Stop
from perturbx.pipelines.pipeline import Pipeline
from perturbx.samplers.base import Coalitions
from perturbx.segmenters.segmentation import Segmentation
from perturbx.targets import TargetSpec


@dataclass
class Trace:
    """Per checkpoint: model queries (the unperturbed image included), the estimated relative error
    ``max(stderr) / range``, the map's Spearman rank correlation and relative L2 distance to the reference,
    and the estimated shortfalls ``1 − ρ`` of the Pearson and Spearman correlation with the converged map (the
    stopping rule's ``measure: correlation`` and ``measure: rank``)."""

    queries: list[int] = field(default_factory=list)
    error: list[float] = field(default_factory=list)
    rank: list[float] = field(default_factory=list)
    l2: list[float] = field(default_factory=list)
    shortfall: list[float] = field(default_factory=list)
    rank_shortfall: list[float] = field(default_factory=list)

    def first_within(self, rank: float = 0.95, l2: float = 0.05) -> int | None:
        """Queries at the first checkpoint from which the map stays within both bars (None if never)."""
        good = [r >= rank and d <= l2 for r, d in zip(self.rank, self.l2)]
        for k in range(len(good)):
            if all(good[k:]):
                return self.queries[k]
        return None


def agreement(saliency: torch.Tensor, reference: torch.Tensor) -> tuple[float, float]:
    """Spearman rank correlation and relative L2 distance ``‖map − ref‖ / ‖ref‖`` of two maps."""
    a, b = saliency.double().flatten(), reference.double().flatten()
    return spearman(a, b), float((a - b).norm() / b.norm().clamp_min(1e-300))


class _Recorder(Attributor):
    """Wraps an attributor and snapshots its map and error every ``every`` rows (not registered)."""

    anytime: ClassVar[bool] = True  # convergence_trace checks the wrapped attributor
    inner: Attributor
    every: int
    _snapshots: list[tuple[int, float, float, float, torch.Tensor]] = PrivateAttr(default_factory=list)

    def check(self, coalitions: Coalitions, segmentation: Segmentation) -> None:
        self.inner.check(coalitions, segmentation)

    def start(self, segmentation: Segmentation, coalitions: Coalitions, y0: torch.Tensor) -> Accumulator:
        return _Snapshots(self.inner.start(segmentation, coalitions, y0), self.every, self._snapshots)


class _Snapshots(Accumulator):
    def __init__(
        self, inner: Accumulator, every: int, sink: list[tuple[int, float, float, float, torch.Tensor]]
    ) -> None:
        self.inner, self.every, self.sink, self.seen = inner, every, sink, 0

    def update(self, z: torch.Tensor, keep: torch.Tensor, y: torch.Tensor) -> None:
        self.inner.update(z, keep, y)
        self.seen += len(y)
        if self.seen % self.every == 0:
            errors = [self.inner.error(measure) for measure in ("range", "correlation", "rank")]
            self.sink.append((self.seen, *errors, self.inner.result().pixels.cpu()))

    def error(self, measure: str = "range") -> float:
        return self.inner.error(measure)

    def result(self) -> Attribution:
        return self.inner.result()


def convergence_trace(
    explainer: Pipeline,
    model: nn.Module | ModelAdapter,
    image: torch.Tensor,
    target: TargetSpec = None,
    every: int = 64,
    max_samples: int | None = None,
    reference: torch.Tensor | None = None,
    batch_size: int | None = None,
    progress: bool | None = False,
) -> Trace:
    """Explain one image ``[1,C,H,W]`` with ``explainer``'s design of ``max_samples`` rows (default: its
    stopping rule's ``max_samples``, else ``n_samples``), snapshotting the map every ``every`` rows; each
    snapshot is compared with ``reference`` (default: the map from all rows). ``batch_size`` and ``progress``
    are the run-time options of :meth:`Explainer.explain`."""
    if not isinstance(explainer, Pipeline):
        raise PerturbxError(f"explainer: convergence_trace needs a perturbation pipeline, got {explainer.name}")
    if not explainer.attributor.anytime:
        raise PerturbxError(f"explainer.attributor: {explainer.attributor.name} has no standard error to trace")
    if image.dim() != 4 or image.shape[0] != 1:
        raise PerturbxError(f"image: expected one image [1,C,H,W], got {list(image.shape)}")
    if every < 1:
        raise PerturbxError(f"every: expected >= 1, got {every}")
    rows = max_samples or (explainer.stop.max_samples if explainer.stop is not None else explainer.n_samples)
    recorder = _Recorder(inner=explainer.attributor, every=every)
    stop = Stop(tolerance=1e-300, check_every=every, min_samples=min(every, rows), max_samples=rows)
    probe = explainer.model_copy(update={"attributor": recorder, "stop": stop})
    final = probe.explain(model, image, target, batch_size=batch_size, progress=progress).maps[0, 0]
    reference = final if reference is None else reference.reshape(final.shape)
    trace = Trace()
    for seen, error, shortfall, rank_shortfall, saliency in recorder._snapshots:
        rank, l2 = agreement(saliency, reference)
        trace.queries.append(seen + 1)
        trace.error.append(error)
        trace.shortfall.append(shortfall)
        trace.rank_shortfall.append(rank_shortfall)
        trace.rank.append(rank)
        trace.l2.append(l2)
    return trace


def convergence_figure(traces: dict[str, Trace] | Trace, tolerance: float | None = None, title: str = "") -> Figure:
    """Left: estimated relative error against queries (log-log, with the tolerance if given); right: rank
    correlation and relative L2 distance to the reference, and the rank correlation with the converged map that
    the ``rank`` measure expects, where traced. One line per named trace."""
    traces = {"": traces} if isinstance(traces, Trace) else traces
    fig = Figure(figsize=(10, 3.8), layout="constrained")
    left, right = fig.subplots(1, 2)
    for name, trace in traces.items():
        line = left.loglog(trace.queries, trace.error, label=name or "estimated error")[0]
        right.semilogx(trace.queries, trace.rank, color=line.get_color(), label=f"{name} rank corr.".strip())
        right.semilogx(trace.queries, trace.l2, color=line.get_color(), linestyle="--", label=f"{name} rel. L2".strip())
        if any(math.isfinite(v) for v in trace.rank_shortfall):
            expected = [1 - v for v in trace.rank_shortfall]
            right.semilogx(trace.queries, expected, color=line.get_color(), linestyle=":",
                           label=f"{name} expected rank corr.".strip())
    if tolerance is not None:
        left.axhline(tolerance, color="grey", linestyle=":", label=f"tolerance {tolerance:g}")
    left.set_xlabel("model queries")
    left.set_ylabel("max stderr / range")
    left.set_title("estimated error")
    left.legend(fontsize=8)
    right.set_xlabel("model queries")
    right.set_ylabel("agreement with the reference")
    right.set_title("rank corr. (solid; expected: dotted), rel. L2 (dashed)")
    right.legend(fontsize=8)
    for ax in (left, right):
        ax.grid(alpha=0.3, which="both")
    if title:
        fig.suptitle(title)
    return fig
