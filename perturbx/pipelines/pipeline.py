"""A perturbation explanation assembled from stages: segmenter → sampler → perturber → model → attributor."""

from __future__ import annotations

from typing import Annotated, Any

import torch
from pydantic import Field
from tqdm.auto import tqdm

from perturbx import registry
from perturbx.attributors.base import Attributor
from perturbx.explainer import Explainer
from perturbx.explanation import Explanation, FeatureScores
from perturbx.models.adapter import BatchSize, ModelAdapter
from perturbx.perturb import engine
from perturbx.perturb.stopping import Stop, check_stoppable
from perturbx.samplers.base import Sampler
from perturbx.segmenters.base import Segmenter
from perturbx.substrates.base import Substrate
from perturbx.targets import TargetSpec, resolve_targets


@registry.register("pipeline", paper="Pihlgren & Främling 2024 (perturbation pipelines)")
class Pipeline(Explainer):
    """Stages may be given as objects, registry names, or ``{name: ..., **params}`` mappings.

    Every image is explained with the same seed, so its map does not depend on the other images in
    the batch, on ``batch_size`` or on the device the coalitions are evaluated on.
    """

    segmenter: Annotated[Segmenter, registry.built("segmenter")] = Field(
        default_factory=lambda: registry.build("segmenter", "grid")
    )
    sampler: Annotated[Sampler, registry.built("sampler")] = Field(
        default_factory=lambda: registry.build("sampler", "bernoulli")
    )
    substrate: Annotated[Substrate, registry.built("substrate")] = Field(
        default_factory=lambda: registry.build("substrate", "constant")
    )
    attributor: Annotated[Attributor, registry.built("attributor")] = Field(
        default_factory=lambda: registry.build("attributor", "rise")
    )
    n_samples: int = Field(1000, ge=1, description="coalitions to evaluate per image")
    seed: int = Field(0, ge=0, description="seed of every random stage")
    stop: Stop | None = Field(None, description="stopping rule {tolerance, check_every, min_samples, max_samples}; "
                              "the design then has max_samples rows and n_samples is unused")
    batch_size: BatchSize = Field("auto", description="images per model call, or auto-tuned")
    progress: bool = Field(True, description="show a progress bar")

    def attribute(self, adapter: ModelAdapter, x: torch.Tensor, target: TargetSpec) -> Explanation:
        device = adapter.device
        jobs = [self._prepare(image, device) for image in x]
        size, _ = adapter.plan(tuple(x.shape[1:]), self.batch_size if isinstance(self.batch_size, int) else None)
        outputs = adapter(x, size)
        targets = resolve_targets(target, outputs)
        total = sum(len(job["coalitions"]) for job in jobs)
        n_queries = x.shape[0]
        features, maps, stderrs, queries, errors = [], [], [], [], []
        with tqdm(total=total, disable=not self.progress, desc=f"{self.attributor.name} queries", unit="img") as bar:
            for b, job in enumerate(jobs):
                score = targets.fns[b]
                y0 = score(outputs[b : b + 1])[0]
                accumulator = self.attributor.start(job["segmentation"], job["coalitions"], y0)
                used = engine.run(
                    engine.Job(**job, score=score, accumulator=accumulator, substrate=self.substrate),
                    adapter,
                    size,
                    bar,
                    self.stop,
                )
                n_queries += used
                queries.append(used + 1)  # + the unperturbed image
                result = accumulator.result()
                maps.append(result.pixels.cpu())
                stderrs.append(None if result.pixels_stderr is None else result.pixels_stderr.cpu())
                errors.append(accumulator.error())
                if result.features is not None:
                    stderr = None if result.features_stderr is None else result.features_stderr.cpu()
                    features.append(FeatureScores(result.features.cpu(), job["segmentation"].to("cpu"), stderr))
        estimated = all(s is not None for s in stderrs)
        error = torch.tensor(errors, dtype=torch.float64) if estimated else None
        return Explanation(
            maps=torch.stack(maps)[:, None],
            targets=targets.classes,
            n_queries=n_queries,
            method=self.attributor.name,
            features=features or None,
            meta={"pipeline": self.spec(), "batch_size": size},
            stderr=torch.stack(stderrs)[:, None] if estimated else None,
            queries=torch.tensor(queries),
            error=error,
            converged=None if self.stop is None or error is None else error < self.stop.tolerance,
        )

    def _prepare(self, image: torch.Tensor, device: torch.device) -> dict[str, Any]:
        """Segmentation, coalitions and fill for one image: all checks happen here, before any query."""
        n_samples = self.n_samples if self.stop is None else self.stop.max_samples
        generator = torch.Generator().manual_seed(self.seed)
        segmentation = self.segmenter.segment(image, n_samples, generator)
        rows = self.sampler.size(n_samples, segmentation.n_features)
        if rows > n_samples:  # a fixed design with more rows: per-sample masks (shifts) need one per row
            generator = torch.Generator().manual_seed(self.seed)
            segmentation = self.segmenter.segment(image, rows, generator)
        coalitions = self.sampler.sample(n_samples, segmentation.n_features, generator)
        self.attributor.check(coalitions, segmentation)
        if self.stop is not None:
            check_stoppable(self.stop, self.attributor, self.sampler, coalitions)
        segmentation = segmentation.to(device)
        image = image.to(device)
        fill = None if self.substrate.depends_on_mask else self.substrate.prepare(image, segmentation, generator)
        return {
            "image": image,
            "segmentation": segmentation,
            "coalitions": coalitions,
            "fill": fill,
            "generator": generator,
        }
