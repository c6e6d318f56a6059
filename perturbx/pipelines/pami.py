"""PAMI: keep one segment at a time over many partitions and shifted copies, and average the outputs per pixel."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import matplotlib
import torch
from pydantic import Field, field_serializer, field_validator
from tqdm.auto import tqdm

from perturbx import registry
from perturbx.attributors.base import Accumulator, Attribution
from perturbx.attributors.pami import PamiScores
from perturbx.errors import PerturbxError
from perturbx.explainer import Explainer
from perturbx.explanation import Explanation
from perturbx.models.adapter import ModelAdapter
from perturbx.perturb import engine
from perturbx.samplers.base import Coalitions
from perturbx.samplers.single import Single
from perturbx.segmenters.base import Segmenter
from perturbx.segmenters.partitions import PAMI_SHIFTS, pami_segmenters
from perturbx.segmenters.segmentation import Segmentation
from perturbx.substrates.base import Substrate
from perturbx.targets import ScoreFn, TargetSpec, resolve_targets


def normalise(maps: torch.Tensor, delta: float) -> torch.Tensor:
    """PAMI's normalised map ``(X − min)/(max − min + delta)``, per map over the last two dimensions."""
    low = maps.amin(dim=(-2, -1), keepdim=True)
    high = maps.amax(dim=(-2, -1), keepdim=True)
    return (maps - low) / (high - low + delta)


@registry.register("pami", paper="Shi et al. 2024 (PAMI: Partition input and Aggregate outputs)")
class Pami(Explainer):
    """For every segmenter and every circular ``shift`` ``(rows, cols)`` of the image, each segment alone is
    kept (the rest replaced by the ``substrate``) and the shifted copy is scored; the segment's score is
    spread over its mask, rolled back by the shift. The ``average`` map is ``Σ p_i·m_i / Σ m_i`` over all
    partitions and segments (a mean probability, in ``meta["average"]``); ``maps`` is its min-max
    normalisation ``(X − min)/(max − min + delta)``. With ``stages: 2`` the first normalised map,
    colour-mapped by ``colormap``, is segmented by the same segmenters and the method runs again on the
    image with those partitions. Defaults: PAMI's recipe without SEEDS (17 partitions × 13 shifts) and a
    Gaussian blur substrate (kernel 49, σ 100)."""

    segmenters: list[Segmenter] = Field(
        default_factory=lambda: [registry.build("segmenter", s) for s in pami_segmenters()],
        min_length=1,
        description="segmenter specs, one partition each",
    )
    shifts: list[tuple[int, int]] = Field(
        default_factory=lambda: list(PAMI_SHIFTS),
        min_length=1,
        description="circular shifts (rows, cols) in px; (0, 0) is the image",
    )
    substrate: Annotated[Substrate, registry.built("substrate")] = Field(
        default_factory=lambda: registry.build("substrate", {"name": "blur", "sigma": 100.0, "kernel_size": 49})
    )
    stages: Literal[1, 2] = Field(1, description="2 re-segments the colour-mapped first map and runs again")
    colormap: str = Field("jet", description="matplotlib colormap applied to the first map before stage 2")
    delta: float = Field(1e-8, gt=0.0, description="added to max − min in the normalised map")
    seed: int = Field(0, ge=0, description="seed of every random stage")
    batch_size: int | Literal["auto"] = Field("auto", description="images per model call, or auto-tuned")
    progress: bool = Field(True, description="show a progress bar")

    @field_validator("segmenters", mode="before")
    @classmethod
    def _segmenters(cls, value: Any) -> Any:
        if not isinstance(value, (list, tuple)):
            raise ValueError("expected a list of segmenter specs")
        return [registry.build("segmenter", v, where=f"segmenters[{i}]") for i, v in enumerate(value)]

    @field_validator("colormap")
    @classmethod
    def _known_colormap(cls, value: str) -> str:
        if value not in matplotlib.colormaps:
            raise ValueError(f"unknown matplotlib colormap {value!r}")
        return value

    @field_serializer("segmenters")
    def _specs(self, value: list[Segmenter]) -> list[dict[str, Any]]:
        return [s.spec() for s in value]

    def check(self, adapter: ModelAdapter, x: torch.Tensor) -> None:
        """Each segmenter must give fixed masks for the first image, before any model query."""
        for segmenter in self.segmenters:
            segmentation = segmenter.segment(x[0].cpu(), 1, torch.Generator().manual_seed(self.seed))
            if type(segmentation) is not Segmentation:
                raise PerturbxError(
                    f"pami: segmenter {segmenter.name} makes per-sample masks (a shifted grid); "
                    "PAMI needs one fixed partition per segmenter"
                )

    def attribute(self, adapter: ModelAdapter, x: torch.Tensor, target: TargetSpec) -> Explanation:
        explicit = self.batch_size if isinstance(self.batch_size, int) else None
        size, _ = adapter.plan(tuple(x.shape[1:]), explicit)
        outputs = adapter(x, size)
        targets = resolve_targets(target, outputs)
        runs = len(self.segmenters) * len(self.shifts) * self.stages * x.shape[0]
        n_queries, averages, firsts = x.shape[0], [], []
        with tqdm(total=runs, disable=not self.progress, desc="pami partitions", unit="partition") as bar:
            for b, image in enumerate(x.to(adapter.device)):
                average, used = self.aggregate(adapter, image, image, targets.fns[b], size, bar)
                n_queries += used
                firsts.append(average)
                if self.stages == 2:
                    guide = self.colour(normalise(average, self.delta)).to(image)
                    average, used = self.aggregate(adapter, image, guide, targets.fns[b], size, bar)
                    n_queries += used
                averages.append(average)
        average = torch.stack(averages)[:, None].cpu()
        meta = {"explainer": self.spec(), "batch_size": size, "average": average}
        if self.stages == 2:
            meta["first_stage_average"] = torch.stack(firsts)[:, None].cpu()
        return Explanation(
            maps=normalise(average, self.delta), targets=targets.classes, n_queries=n_queries, method="pami", meta=meta
        )

    def aggregate(
        self, adapter: ModelAdapter, image: torch.Tensor, guide: torch.Tensor, score: ScoreFn, size: int, bar: tqdm
    ) -> tuple[torch.Tensor, int]:
        """``Σ p_i·m_i / Σ m_i`` over every partition of ``guide`` (segmented) applied to ``image`` (scored)."""
        numerator = torch.zeros(image.shape[-2:], dtype=torch.float64, device=image.device)
        coverage = torch.zeros_like(numerator)
        queries = 0
        for segmenter in self.segmenters:
            for dy, dx in self.shifts:
                p, masks, used = self.keep_one(
                    adapter, image.roll((dy, dx), (-2, -1)), guide.roll((dy, dx), (-2, -1)), segmenter, score, size
                )
                numerator += torch.einsum("m,mhw->hw", p.double(), masks.double()).roll((-dy, -dx), (0, 1))
                coverage += masks.double().sum(0).roll((-dy, -dx), (0, 1))
                queries += used
                bar.update(1)
        return (numerator / coverage.clamp_min(1e-12)).float(), queries

    def keep_one(
        self,
        adapter: ModelAdapter,
        image: torch.Tensor,
        guide: torch.Tensor,
        segmenter: Segmenter,
        score: ScoreFn,
        size: int,
    ) -> tuple[torch.Tensor, torch.Tensor, int]:
        """Scores of ``image`` with each segment of ``guide``'s partition kept alone, the segment masks, queries."""
        generator = torch.Generator().manual_seed(self.seed)
        segmentation = segmenter.segment(guide.cpu(), 1, generator)
        coalitions = Single(inverse=True).sample(1, segmentation.n_features, generator)
        segmentation = segmentation.to(image.device)
        fill = None if self.substrate.depends_on_mask else self.substrate.prepare(image, segmentation, generator)
        accumulator = PamiScores().start(segmentation, coalitions, torch.zeros(()))
        job = engine.Job(
            image=image,
            segmentation=segmentation,
            coalitions=coalitions,
            substrate=self.substrate,
            fill=fill,
            score=score,
            accumulator=accumulator,
            generator=generator,
        )
        used = engine.run(job, adapter, size)
        return accumulator.result().features.to(image.device), segmentation.masks, used

    def colour(self, normalised: torch.Tensor) -> torch.Tensor:
        """A ``[3,H,W]`` RGB image of a ``[H,W]`` map in [0,1] through the colormap."""
        rgba = matplotlib.colormaps[self.colormap](normalised.detach().cpu().clamp(0, 1).numpy())
        return torch.from_numpy(rgba[..., :3]).permute(2, 0, 1).float()


@registry.register("pami_windows", paper="Shi et al. 2024 (PAMI, sliding-window variant)")
class PamiWindows(Explainer):
    """PAMI's sliding-window variant: keep a disk of ``radius`` px (the rest replaced by the ``substrate``)
    centred on every point of a ``stride`` px grid, one model query per disk. The ``average`` map is
    ``Σ p_w·disk_w / Σ disk_w`` (``meta["average"]``); ``maps`` is its min-max normalisation."""

    radius: float = Field(40.0, gt=0.0, description="disk radius in pixels")
    stride: int = Field(6, ge=1, description="distance between disk centres in pixels")
    substrate: Annotated[Substrate, registry.built("substrate")] = Field(
        default_factory=lambda: registry.build("substrate", {"name": "blur", "sigma": 100.0, "kernel_size": 49})
    )
    delta: float = Field(1e-8, gt=0.0, description="added to max − min in the normalised map")
    seed: int = Field(0, ge=0, description="seed of random substrates")
    batch_size: int | Literal["auto"] = Field("auto", description="images per model call, or auto-tuned")
    progress: bool = Field(True, description="show a progress bar")

    def check(self, adapter: ModelAdapter, x: torch.Tensor) -> None:
        """Every pixel must lie in some disk (the nearest centre of a grid is the nearest along each axis)."""
        gaps = [
            (torch.arange(n)[:, None] - torch.arange(0, n, self.stride)[None]).abs().amin(1).max() for n in x.shape[-2:]
        ]
        reach = float(sum(g.double() ** 2 for g in gaps) ** 0.5)
        if self.radius < reach:
            raise PerturbxError(
                f"pami_windows: radius {self.radius} leaves pixels outside every disk at stride "
                f"{self.stride}; use radius >= {reach:.2f}"
            )

    def attribute(self, adapter: ModelAdapter, x: torch.Tensor, target: TargetSpec) -> Explanation:
        explicit = self.batch_size if isinstance(self.batch_size, int) else None
        size, _ = adapter.plan(tuple(x.shape[1:]), explicit)
        outputs = adapter(x, size)
        targets = resolve_targets(target, outputs)
        h, w = x.shape[-2:]
        grid = torch.stack(
            torch.meshgrid(torch.arange(0, h, self.stride), torch.arange(0, w, self.stride), indexing="ij"), -1
        ).view(-1, 2)
        coalitions = Coalitions(torch.eye(len(grid)))  # row n keeps window n alone
        averages, n_queries = [], x.shape[0]
        with tqdm(total=len(grid) * x.shape[0], disable=not self.progress, desc="pami windows", unit="img") as bar:
            for b, image in enumerate(x.to(adapter.device)):
                generator = torch.Generator().manual_seed(self.seed)
                disks = Disks(grid.to(image.device), self.radius, (h, w))
                whole = Segmentation.from_labels(torch.zeros(h, w, dtype=torch.long)).to(image.device)
                fill = None if self.substrate.depends_on_mask else self.substrate.prepare(image, whole, generator)
                accumulator = PixelMean((h, w), image.device)
                job = engine.Job(
                    image=image,
                    segmentation=disks,
                    coalitions=coalitions,
                    substrate=self.substrate,
                    fill=fill,
                    score=targets.fns[b],
                    accumulator=accumulator,
                    generator=generator,
                )
                n_queries += engine.run(job, adapter, size, bar)
                averages.append(accumulator.result().pixels)
        average = torch.stack(averages)[:, None].cpu()
        return Explanation(
            maps=normalise(average, self.delta),
            targets=targets.classes,
            n_queries=n_queries,
            method="pami_windows",
            meta={"explainer": self.spec(), "batch_size": size, "average": average},
        )


class Disks:
    """Keep-masks for the one-window-per-row design: row ``index[n]`` keeps the disk around ``centres[index[n]]``."""

    def __init__(self, centres: torch.Tensor, radius: float, shape: tuple[int, int]) -> None:
        self.centres, self.radius, self.shape = centres, radius, shape

    def keep_masks(self, z: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """Keep-masks ``[n,H,W]``: 1 inside the disk of each row's window, 0 outside."""
        centre = self.centres[index.to(self.centres.device)].to(z)
        rows = torch.arange(self.shape[0], device=z.device, dtype=z.dtype)
        cols = torch.arange(self.shape[1], device=z.device, dtype=z.dtype)
        dy = rows[None, :, None] - centre[:, 0, None, None]
        dx = cols[None, None, :] - centre[:, 1, None, None]
        return (dy**2 + dx**2 <= self.radius**2).to(z.dtype)


class PixelMean(Accumulator):
    """``Σ y·keep / Σ keep`` per pixel (no feature scores)."""

    def __init__(self, shape: tuple[int, int], device: torch.device) -> None:
        self.total = torch.zeros(shape, dtype=torch.float64, device=device)
        self.coverage = torch.zeros_like(self.total)

    def update(self, z: torch.Tensor, keep: torch.Tensor, y: torch.Tensor) -> None:
        self.total += torch.einsum("n,nhw->hw", y.to(keep.dtype), keep).double()
        self.coverage += keep.sum(0).double()

    def result(self) -> Attribution:
        return Attribution(None, (self.total / self.coverage.clamp_min(1e-12)).float())
