"""The base of segmenters that compute a label map: edges are added here, once for all of them."""

from __future__ import annotations

import numpy as np
import torch
from pydantic import Field

from perturbx.errors import PerturbxError
from perturbx.segmenters.base import Segmenter
from perturbx.segmenters.edges import Edges
from perturbx.segmenters.segmentation import Segmentation


class LabelSegmenter(Segmenter):
    """A segmenter that only implements :meth:`labels`; ``edges``, ``sigma`` and ``width`` turn the
    label map into soft masks through :meth:`Segmentation.from_labels`. Labels are relabelled to
    0..M-1 whatever values they start at."""

    edges: Edges = Field("hard", description="mask edges: hard, gaussian fade or bilinear ramp")
    sigma: float | None = Field(None, gt=0, description="Gaussian fade in pixels (edges=gaussian); default 70/sqrt(M)")
    width: int | None = Field(None, ge=1, description="ramp width in pixels (edges=bilinear); default sqrt(HW/M)")

    def labels(self, image: torch.Tensor) -> torch.Tensor:
        """An integer label map ``[H,W]`` for one image ``[C,H,W]``."""
        raise NotImplementedError

    def segment(self, image: torch.Tensor, generator: torch.Generator) -> Segmentation:
        labels = as_label_map(self.labels(image), tuple(image.shape[-2:]), self.name)
        return Segmentation.from_labels(labels, self.sigma, edges=self.edges, width=self.width)


def hwc(image: torch.Tensor) -> np.ndarray:
    """A ``[C,H,W]`` tensor as the ``[H,W,C]`` float64 numpy array scikit-image expects."""
    return image.detach().to("cpu", torch.float64).permute(1, 2, 0).numpy()


def gray(image: torch.Tensor) -> np.ndarray:
    """Luminance ``[H,W]`` (scikit-image's ``rgb2gray`` weights for RGB, the channel mean otherwise)."""
    if image.shape[0] == 3:
        from skimage.color import rgb2gray

        return rgb2gray(hwc(image))
    return hwc(image).mean(-1)


def as_label_map(labels: object, shape: tuple[int, int], where: str) -> torch.Tensor:
    """Check that ``labels`` is a whole-numbered ``[H,W]`` array or tensor and return it as a long tensor."""
    t = labels if isinstance(labels, torch.Tensor) else torch.as_tensor(np.asarray(labels))
    if tuple(t.shape) != shape:
        raise PerturbxError(f"{where}: expected a label map of shape {shape}, got {tuple(t.shape)}")
    if t.is_complex() or (t.is_floating_point() and not torch.equal(t, t.round())):
        raise PerturbxError(f"{where}: labels must be whole numbers, got dtype {t.dtype} with fractional values")
    return t.detach().cpu().long()
