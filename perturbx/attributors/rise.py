"""RISE: the saliency of a pixel (or feature) is the mean score of the samples that kept it."""

from __future__ import annotations

import math
from typing import ClassVar, Literal

import torch
from pydantic import Field

from perturbx.attributors.base import Accumulator, Attribution, Attributor
from perturbx.attributors.control import RegionControl, check_size, refit_rows
from perturbx.attributors.uncertainty import (
    centred_noise,
    correlation_shortfall,
    pixel_draws,
    project_variance,
    rank_shortfall,
    relative_error,
)
from perturbx.errors import PerturbxError
from perturbx.registry import register
from perturbx.samplers.base import Coalitions
from perturbx.segmenters.segmentation import Segmentation, ShiftedGrid


@register("rise", paper="Petsiuk, Das & Saenko, BMVC 2018")
class Rise(Attributor):
    """``Σ_n y_n·m_n / Σ_n m_n`` per pixel over the actual (soft, shifted) keep-masks, and
    ``Σ_n y_n·z_n / Σ_n z_n`` per feature. ``normalize='expected'`` divides by ``N·p`` instead,
    as the original code did (``p`` = mean keep rate of the design). Standard errors: both are ratio
    estimators, whose first-order variance is streamed from float64 moments of the independent draws.
    ``control='linear'`` estimates the same map with less noise (a regression control variate,
    :mod:`perturbx.attributors.control`)."""

    anytime: ClassVar[bool] = True

    level: Literal["pixel", "feature"] = Field(
        "pixel", description="map from per-pixel accumulation, or feature scores projected through the masks"
    )
    normalize: Literal["coverage", "expected"] = Field(
        "coverage", description="divide by how often each pixel was kept, or by N·p"
    )
    control: Literal["none", "linear"] = Field(
        "none",
        description="'linear': subtract the score's fit on each region's kept share and add back its exact "
        "expectation (a regression control variate: same map, less noise; needs i.i.d. Bernoulli features per row)",
    )

    def check(self, coalitions: Coalitions, segmentation: Segmentation) -> None:
        if self.control == "none":
            return
        if coalitions.keep_rate is None:
            raise PerturbxError(
                "attributor rise: control='linear' needs a design whose rows keep each feature independently with "
                "one probability p (samplers bernoulli, antithetic, qmc); this sampler's design is not one"
            )
        if segmentation.per_sample and not isinstance(segmentation, ShiftedGrid):
            raise PerturbxError(
                f"attributor rise: control='linear' does not know the moments of {type(segmentation).__name__} masks"
            )
        check_size(segmentation)

    def start(self, segmentation: Segmentation, coalitions: Coalitions, y0: torch.Tensor) -> Accumulator:
        return _RiseSums(self, segmentation, coalitions)


class RatioMoments:
    """Streams a ratio estimator ``R = Σ_n Y_n / Σ_n X_n`` and its first-order variance
    ``G/(G−1)·Σ_g (Y_g − R·X_g)² / (Σ X)²`` over independent groups ``g`` of rows, in float64, holding
    only sums of the size of one estimate (a group cut by a chunk boundary waits for its other rows).
    ``full`` also keeps the cross-moments for the covariance between the entries."""

    def __init__(self, shape: tuple[int, ...], device: torch.device, full: bool = False) -> None:
        zeros = torch.zeros(shape, device=device, dtype=torch.float64)
        square = torch.zeros(shape + shape if full else shape, device=device, dtype=torch.float64)
        self.full, self.groups = full, 0
        self.sy, self.sx = zeros, zeros.clone()
        self.syy, self.syx, self.sxx = square, square.clone(), square.clone()
        self.pending: tuple[int, torch.Tensor, torch.Tensor] | None = None

    def update(
        self,
        a: torch.Tensor,
        basis: torch.Tensor,
        b: torch.Tensor | None,
        ids: torch.Tensor,
        offset: torch.Tensor | None = None,
    ) -> None:
        """Fold rows ``Y_n = a_n·basis_n (+ offset)``, ``X_n = basis_n`` (or the scalar ``b_n``) drawn in groups
        ``ids [n]`` (consecutive, non-decreasing); group totals are products with the ``[G,n]`` membership matrix."""
        local = (ids - ids[0]).to(basis.device)
        count = int(local[-1]) + 1
        member = (local[None, :] == torch.arange(count, device=basis.device)[:, None]).to(basis.dtype)
        continues = self.pending is not None and self.pending[0] == int(ids[0])
        yg = (member * a) @ basis
        if offset is not None:
            yg += member.sum(1, keepdim=True) * offset
        xg = member @ basis if b is None else (member @ b)[:, None].expand_as(yg).clone()
        if continues:
            yg[0] += self.pending[1]
            xg[0] += self.pending[2]
        elif self.pending is not None:
            self._fold(self.pending[1][None], self.pending[2][None])
        self._fold(yg[:-1], xg[:-1])
        self.pending = (int(ids[-1]), yg[-1], xg[-1])

    def update_rows(
        self, a: torch.Tensor, basis: torch.Tensor, b: torch.Tensor | None = None, offset: torch.Tensor | None = None
    ) -> None:
        """Fold rows that are each their own draw, ``Y_n = a_n·basis_n (+ offset)`` and ``X_n = basis_n`` (or
        the scalar ``b_n``), as products of the coefficient vectors with ``basis [n,S]`` and its square: no
        other ``[n,S]`` temporary (the common, i.i.d. case; entries' variances only)."""
        square = basis * basis
        ones = torch.ones_like(a)
        n = len(a)
        self.groups += n
        ay = a @ basis
        self.sy += ay
        self.syy += (a * a) @ square
        x = ones @ basis if b is None else b.sum()
        self.sx += x
        if b is None:
            self.syx += a @ square
            self.sxx += ones @ square
        else:
            self.syx += (a * b) @ basis
            self.sxx += (b * b).sum()
        if offset is not None:  # Y_n + c: Σ(Y+c) = ΣY + n·c, Σ(Y+c)² = ΣY² + 2c·ΣY + n·c², Σ(Y+c)X = ΣYX + c·ΣX
            self.sy += n * offset
            self.syy += offset * (2 * ay + n * offset)
            self.syx += offset * x

    def _fold(self, yg: torch.Tensor, xg: torch.Tensor) -> None:
        ones = torch.ones(yg.shape[0], dtype=yg.dtype, device=yg.device)  # sums as products: faster than sum(0)
        self.groups += yg.shape[0]
        self.sy += ones @ yg
        self.sx += ones @ xg
        if self.full:
            self.syy += yg.T @ yg
            self.syx += yg.T @ xg
            self.sxx += xg.T @ xg
        else:
            self.syy += ones @ (yg * yg)
            self.syx += ones @ (yg * xg)
            self.sxx += ones @ (xg * xg)

    def estimate(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``R`` and its variance (diagonal, or the full covariance when ``full``), pending group included."""
        sums = [self.sy, self.sx, self.syy, self.syx, self.sxx]
        groups = self.groups
        if self.pending is not None:
            y, x = self.pending[1], self.pending[2]
            products = (y[:, None] * y, y[:, None] * x, x[:, None] * x) if self.full else (y * y, y * x, x * x)
            sums = [a + b for a, b in zip(sums, [y, x, *products])]
            groups += 1
        sy, sx, syy, syx, sxx = sums
        sx = sx.clamp_min(1e-12)
        r = sy / sx
        if groups < 2:
            return r, torch.full_like(syy, math.nan)
        if self.full:
            spread = syy - syx * r[None, :] - syx.T * r[:, None] + sxx * r[:, None] * r[None, :]
            return r, spread * (groups / (groups - 1)) / (sx[:, None] * sx[None, :])
        spread = (syy - 2 * r * syx + r * r * sxx).clamp_min(0)
        return r, spread * (groups / (groups - 1)) / (sx * sx)


class BatchRatios:
    """``K`` interleaved sub-estimates of a ratio map (draw ``g`` goes to batch ``g mod K``), for the noise of
    the map as a whole: RISE's errors are largely shared by all pixels (every pixel sees the same scores), and
    only the part that differs between pixels moves their ranks."""

    def __init__(self, size: int, device: torch.device, batches: int = 16) -> None:
        self.batches = batches
        self.sy = torch.zeros(batches, size, dtype=torch.float64, device=device)
        self.sx = torch.zeros(batches, size, dtype=torch.float64, device=device)
        self.draws = torch.zeros(batches, dtype=torch.float64)
        self.last = -1

    def update(
        self, a: torch.Tensor, basis: torch.Tensor, b: torch.Tensor | None, ids: torch.Tensor,
        offset: torch.Tensor | None,
    ) -> None:
        """Fold rows ``Y_n = a_n·basis_n (+ offset)``, ``X_n = basis_n`` (or the scalar ``b_n``) of groups ``ids``."""
        member = torch.nn.functional.one_hot(ids % self.batches, self.batches).T.to(basis)  # [K,n]
        self.sy += (member * a) @ basis
        if offset is not None:
            self.sy += member.sum(1, keepdim=True) * offset
        self.sx += member @ basis if b is None else (member @ b)[:, None]
        fresh = ids.unique()
        fresh = fresh[fresh > self.last].cpu()
        self.draws += torch.bincount(fresh % self.batches, minlength=self.batches).double()
        self.last = int(ids[-1])

    def _deviations(self, estimate: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Each used batch's deviation ``R_k − R`` ``[K,P]`` and ``G/G_k − 1``, the multiple of the map's variance
        it carries (``G_k`` draws in batch k); None with fewer than two batches."""
        used = self.draws > 0
        if int(used.sum()) < 2:
            return None
        maps = self.sy[used] / self.sx[used].clamp_min(1e-12)
        return maps - estimate.reshape(1, -1), self.draws.sum() / self.draws[used] - 1

    def centred_noise(self, estimate: torch.Tensor) -> float:
        """Mean squared error of the map's entries about their mean: ``Σ_k ‖c(R_k − R)‖² / P`` over the batches
        ``k``, divided by ``Σ_k (G/G_k − 1)`` (its expectation per unit of that error)."""
        found = self._deviations(estimate)
        if found is None:
            return math.nan
        deviation, multiple = found
        deviation = deviation - deviation.mean(1, keepdim=True)
        return float((deviation**2).mean(1).sum()) / float(multiple.sum())

    def error_draws(self, estimate: torch.Tensor) -> torch.Tensor:
        """Draws ``[K,P]`` of the map's error: each batch's deviation scaled to the variance of ``R``; none with
        fewer than two batches."""
        found = self._deviations(estimate)
        if found is None:
            return torch.zeros(0, self.sy.shape[1], dtype=torch.float64)
        deviation, multiple = found
        return deviation / multiple.clamp_min(1e-12).sqrt().to(deviation)[:, None]


class _RiseSums(Accumulator):
    def __init__(self, rise: Rise, segmentation: Segmentation, coalitions: Coalitions) -> None:
        device = segmentation.masks.device
        self.rise, self.segmentation = rise, segmentation
        self.fixed, self.ids, self.seen = coalitions.fixed, coalitions.group_ids(), 0
        self.singletons = coalitions.groups is None  # every row its own draw: the fast path
        self.shift: float | None = None  # scores are summed relative to the first chunk's mean, for accuracy
        self.pixels = RatioMoments((segmentation.shape[0] * segmentation.shape[1],), device)
        self.features = RatioMoments((segmentation.n_features,), device, full=rise.level == "feature")
        self.batches = BatchRatios(segmentation.shape[0] * segmentation.shape[1], device)
        self.control = None
        if rise.control == "linear":
            self.control = RegionControl(segmentation, coalitions.keep_rate, device)
            self.refits = refit_rows(self.ids)

    def update(self, z: torch.Tensor, keep: torch.Tensor, y: torch.Tensor) -> None:
        if self.control is None:
            self._fold(z, keep, y)
            return
        while len(y):  # the control's slope may change only at its refit rows, wherever the chunks end
            upcoming = [row - self.seen for row in self.refits if row > self.seen]
            cut = min([len(y), *upcoming])
            self._fold(z[:cut], keep[:cut], y[:cut])
            if self.seen in self.refits:
                self.control.refit()
            z, keep, y = z[cut:], keep[cut:], y[cut:]

    def _fold(self, z: torch.Tensor, keep: torch.Tensor, y: torch.Tensor) -> None:
        y = y.double()
        if self.shift is None:
            self.shift = float(y.mean()) if self.rise.normalize == "coverage" else 0.0
        y = y - self.shift
        ids = self.ids[self.seen : self.seen + len(y)]
        self.seen += len(y)
        z = z.double()
        keep = keep.reshape(len(y), -1).double()
        pixel_offset = feature_offset = None
        if self.control is not None:  # y − b·(g − ḡ), and b·E[(g − ḡ)·m] added back to every row
            g = self.control.regressors(keep)
            self.control.fold(g, y)
            slope = self.control.slope
            y = y - g @ slope
            pixel_offset, feature_offset = slope @ self.control.pixel_cov, slope @ self.control.feature_cov
        # coverage: X = the keep-mask itself; expected: X = the row's keep rate (the design's mean is p)
        rate = None if self.rise.normalize == "coverage" else z.mean(1)
        if self.rise.level == "pixel":
            if self.singletons:
                self.pixels.update_rows(y, keep, rate, pixel_offset)
            else:
                self.pixels.update(y, keep, rate, ids, pixel_offset)
            self.batches.update(y, keep, rate, ids.to(keep.device), pixel_offset)
        self.features.update(y, z, rate, ids, feature_offset)

    def _features(self) -> tuple[torch.Tensor, torch.Tensor]:
        scores, variance = self.features.estimate()
        return scores + (self.shift or 0.0), torch.zeros_like(variance) if self.fixed else variance

    def _pixels(self) -> tuple[torch.Tensor, torch.Tensor]:
        scores, variance = self.pixels.estimate()
        scores, variance = scores.view(self.segmentation.shape), variance.view(self.segmentation.shape)
        return scores + (self.shift or 0.0), torch.zeros_like(variance) if self.fixed else variance

    def error(self, measure: str = "range") -> float:
        if self.rise.level == "feature":
            scores, covariance = self._features()
            if measure == "correlation":  # a fixed design's covariance is already 0
                return correlation_shortfall(scores, centred_noise(covariance))
            if measure == "rank":
                return rank_shortfall(self.segmentation.project(scores.float()),
                                      pixel_draws(self.segmentation, covariance))
            return relative_error(scores, covariance.diagonal().clamp_min(0).sqrt())
        scores, variance = self._pixels()
        if self.fixed and measure != "range":
            return 0.0
        centred = scores.flatten() - (self.shift or 0.0)
        if measure == "correlation":
            return correlation_shortfall(scores, self.batches.centred_noise(centred))
        if measure == "rank":
            return rank_shortfall(scores, self.batches.error_draws(centred)[:8])
        return relative_error(scores, variance.sqrt())

    def result(self) -> Attribution:
        features, variance = self._features()
        if self.rise.level == "feature":
            covariance, variance = variance, variance.diagonal()
        stderr = variance.clamp_min(0).sqrt().float()
        if self.rise.level == "feature":
            pixels = self.segmentation.project(features.float())
            pixel_stderr = project_variance(self.segmentation, covariance).sqrt().float()
        else:
            pixels, pixel_variance = self._pixels()
            pixels, pixel_stderr = pixels.float(), pixel_variance.sqrt().float()
        return Attribution(features.float(), pixels, features_stderr=stderr, pixels_stderr=pixel_stderr)
