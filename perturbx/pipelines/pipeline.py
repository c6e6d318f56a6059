"""A perturbation explanation assembled from stages: segmenter → view → sampler → substrate → model → attributor."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Annotated, Literal

import matplotlib
import torch
from pydantic import Field, field_validator, model_validator
from tqdm.auto import tqdm

from perturbx import registry
from perturbx.attributors.base import Attribution, Attributor
from perturbx.explainer import Explainer
from perturbx.explanation import Explanation, FeatureScores
from perturbx.models.adapter import ModelAdapter
from perturbx.perturb import engine
from perturbx.perturb.stopping import Stop, check_stoppable
from perturbx.samplers.base import Sampler
from perturbx.seeding import stream
from perturbx.segmenters.base import Segmenter
from perturbx.segmenters.segmentation import Segmentation
from perturbx.substrates.base import Substrate
from perturbx.targets import ScoreFn, TargetSpec, resolve_targets
from perturbx.views.base import View


@registry.register("pipeline", paper="Pihlgren & Främling 2024 (perturbation pipelines)")
class Pipeline(Explainer):
    """Stages may be given as objects, registry names, or ``{name: ..., **params}`` mappings.

    Each image runs one job per view and partition (:meth:`jobs`); the attributor combines their maps.
    Every random stage draws from its own stream of ``seed``, and every image from the same streams,
    so a map depends neither on the other images in the batch, nor on the batch size or device.
    ``stages: 2`` segments the colour-mapped first map instead of the image and runs again (PAMI).
    """

    segmenter: Annotated[Segmenter, registry.built("segmenter")] = Field(
        default_factory=lambda: registry.build("segmenter", "grid")
    )
    view: Annotated[View, registry.built("view")] = Field(default_factory=lambda: registry.build("view", "identity"))
    sampler: Annotated[Sampler, registry.built("sampler")] = Field(
        default_factory=lambda: registry.build("sampler", "bernoulli")
    )
    substrate: Annotated[Substrate, registry.built("substrate")] = Field(
        default_factory=lambda: registry.build("substrate", "constant")
    )
    attributor: Annotated[Attributor, registry.built("attributor")] = Field(
        default_factory=lambda: registry.build("attributor", "rise")
    )
    n_samples: int = Field(1000, ge=1, le=10**7, description="coalitions to evaluate per image and job (at most 10^7)")
    seed: int = Field(0, ge=0, description="seed of every random stage")
    stop: Stop | None = Field(None, description="stopping rule {tolerance, check_every, min_samples, max_samples}; "
                              "each job's design then has max_samples rows and n_samples is unused")
    stages: Literal[1, 2] = Field(1, description="2 segments the colour-mapped first map and runs again")
    colormap: str = Field("jet", description="matplotlib colormap of the first map when stages is 2")

    @field_validator("colormap")
    @classmethod
    def _known_colormap(cls, value: str) -> str:
        if value not in matplotlib.colormaps:
            raise ValueError(f"unknown matplotlib colormap {value!r}")
        return value

    @model_validator(mode="after")
    def _compatible(self) -> Pipeline:
        self.attributor.accepts(self.sampler)
        return self

    @property
    def method(self) -> str:
        return self.attributor.name

    def check(self, adapter: ModelAdapter, x: torch.Tensor) -> None:
        """Segment, sample and check the first job of the first image, before any model query."""
        next(self.jobs(x[0]))

    def jobs(self, image: torch.Tensor, guide: torch.Tensor | None = None) -> Iterator[engine.Job]:
        """The jobs of one image ``[C,H,W]``: every partition of every view, each with its design and fill.

        ``guide`` (default: the image) is what the segmenter sees. Job ``j`` samples and fills from
        streams ``j`` of the sampler and substrate, view ``k`` segments from stream ``k``.
        """
        guide = image if guide is None else guide
        j = 0
        for k in range(self.view.count()):
            shown = self.view.show(image, k)
            parts = self.segmenter.partitions(self.view.show(guide, k).cpu(), stream(self.seed, "segmenter", k))
            for segmentation in parts:
                sampler_stream = stream(self.seed, "sampler", j)
                rows = self.n_samples if self.stop is None else self.stop.max_samples
                coalitions = self.sampler.sample(rows, segmentation.n_features, sampler_stream)
                self.attributor.check(coalitions, segmentation)
                if self.stop is not None:
                    check_stoppable(self.stop, self.attributor, self.sampler, coalitions)
                segmentation = segmentation.to(image.device)
                fill = self.substrate.bind(shown, segmentation, stream(self.seed, "substrate", j))
                yield engine.Job(shown, segmentation, coalitions, fill, view=k)
                j += 1

    def attribute(self, adapter: ModelAdapter, x: torch.Tensor, target: TargetSpec) -> Explanation:
        size = adapter.plan(tuple(x.shape[1:]))[0]
        outputs = adapter(x, size)
        targets = resolve_targets(target, outputs)
        n_queries, maps, metas, features = x.shape[0], [], [], []
        stderrs, queries, errors = [], [], []
        with tqdm(total=0, disable=not adapter.progress, desc=f"{self.method} queries", unit="img") as bar:
            for b, image in enumerate(x.to(adapter.device)):
                score, y0 = targets.fns[b], targets.fns[b](outputs[b : b + 1])[0]
                parts, used, segmentation, error = self._run(image, image, adapter, score, y0, size, bar)
                meta = {}
                if self.stages == 2:
                    first, meta = self.attributor.finish(self.attributor.combine(parts))
                    meta = {f"first_stage_{key}": value for key, value in meta.items()}
                    parts, second, segmentation, error = self._run(
                        image, self._colour(first).to(image), adapter, score, y0, size, bar
                    )
                    used += second
                n_queries += used
                pixels, extra = self.attributor.finish(self.attributor.combine(parts))
                maps.append(pixels.cpu())
                metas.append({**meta, **extra})
                stderr = self.attributor.combine_stderr(parts)
                stderrs.append(None if stderr is None else stderr.cpu())
                queries.append(used + 1)  # + the unperturbed image
                errors.append(error)
                if len(parts) == 1 and self.view.name == "identity" and parts[0].features is not None:
                    found = parts[0].features_stderr
                    features.append(FeatureScores(parts[0].features.cpu(), segmentation.to("cpu"),
                                                  None if found is None else found.cpu()))
        meta = {key: torch.stack([m[key] for m in metas])[:, None].cpu() for key in metas[0]}
        estimated = all(s is not None for s in stderrs)
        error = torch.tensor(errors, dtype=torch.float64) if estimated else None
        return Explanation(
            maps=torch.stack(maps)[:, None],
            targets=targets.classes,
            n_queries=n_queries,
            method=self.method,
            features=features if len(features) == x.shape[0] else None,
            meta={**meta, "batch_size": size},
            stderr=torch.stack(stderrs)[:, None] if estimated else None,
            queries=torch.tensor(queries),
            error=error,
            converged=None if self.stop is None or error is None else error < self.stop.tolerance,
        )

    def _run(
        self, image: torch.Tensor, guide: torch.Tensor, adapter: ModelAdapter, score: ScoreFn, y0: torch.Tensor,
        size: int, bar: tqdm,
    ) -> tuple[list[Attribution], int, Segmentation, float]:
        """Every job of one image: the attributions in the image's frame, the model queries, the last
        segmentation and the worst relative error of the jobs (NaN if unknown)."""
        parts, queries, errors = [], 0, []
        for job in self.jobs(image, guide):
            accumulator = self.attributor.start(job.segmentation, job.coalitions, y0)
            queries += engine.run(job, accumulator, adapter, score, size, bar, self.stop)
            found = accumulator.result()
            errors.append(accumulator.error("range" if self.stop is None else self.stop.measure))
            weight = None if found.weight is None else self.view.back(found.weight, job.view)
            stderr = None if found.pixels_stderr is None else self.view.back(found.pixels_stderr, job.view)
            parts.append(Attribution(found.features, self.view.back(found.pixels, job.view), weight,
                                     found.features_stderr, stderr))
        worst = math.nan if any(math.isnan(e) for e in errors) else max(errors)
        return parts, queries, job.segmentation, worst

    def _colour(self, pixels: torch.Tensor) -> torch.Tensor:
        """A ``[3,H,W]`` RGB image of a map through the colormap (maps outside [0,1] are min-max scaled first)."""
        if pixels.min() < 0 or pixels.max() > 1:
            pixels = (pixels - pixels.min()) / (pixels.max() - pixels.min()).clamp_min(1e-12)
        rgba = matplotlib.colormaps[self.colormap](pixels.detach().cpu().numpy())
        return torch.from_numpy(rgba[..., :3]).permute(2, 0, 1).float()

