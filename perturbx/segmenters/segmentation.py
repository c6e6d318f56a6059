"""What a segmenter returns: labels, soft feature masks, and the coalition -> keep-mask projection."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch
import torch.nn.functional as F

from perturbx.seeding import stream
from perturbx.segmenters.edges import Edges, soften


@dataclass
class Segmentation:
    """``labels [H,W]`` (0..M-1) and soft ``masks [M,H,W]``; a keep-mask is ``Z·masks / Σ masks``.

    Hard segmentations take a gather instead of the matrix product. Subclasses may make keep-masks
    that vary per sample (``per_sample``: the randomly shifted RISE grid); ``masks`` is then their reference form.
    """

    per_sample: ClassVar[bool] = False
    labels: torch.Tensor
    masks: torch.Tensor
    hard: bool = False
    coverage: torch.Tensor = field(init=False)

    def __post_init__(self) -> None:
        self.coverage = self.masks.sum(0).clamp_min(1e-12)

    @classmethod
    def from_labels(
        cls, labels: torch.Tensor, sigma: float | None = 0.0, edges: Edges | None = None, width: int | None = None
    ) -> Segmentation:
        """Relabel any integer map to 0..M-1 and build one-hot masks with ``edges`` (see :func:`soften`).

        ``edges=None`` keeps the original behaviour: a Gaussian fade if ``sigma > 0``, else hard masks.
        """
        _, dense = torch.unique(labels, return_inverse=True)
        dense = dense.long()
        masks = F.one_hot(dense, int(dense.max()) + 1).permute(2, 0, 1).float()
        edges = edges or ("gaussian" if sigma else "hard")
        if edges == "hard":
            return cls(dense, masks, hard=True)
        return cls(dense, soften(masks, edges, sigma, width))

    @property
    def n_features(self) -> int:
        """Number of features M (segments)."""
        return self.masks.shape[0]

    @property
    def shape(self) -> tuple[int, int]:
        """The image size ``(H, W)``."""
        return tuple(self.labels.shape)

    def to(self, device: torch.device) -> Segmentation:
        """This segmentation with its tensors on ``device``."""
        if self.masks.device == torch.device(device):
            return self
        moved = type(self).__new__(type(self))
        moved.__dict__.update({k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in vars(self).items()})
        return moved

    def keep_masks(self, z: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """Keep-masks ``[n,H,W]`` in [0,1] for coalitions ``z [n,M]``; ``index`` numbers the samples."""
        return self.combine(z)

    def combine(self, z: torch.Tensor) -> torch.Tensor:
        """``Σ_m z[:,m]·masks[m] / Σ_m masks[m]`` through the reference masks, as ``[n,H,W]``."""
        if self.hard:
            return z[:, self.labels]
        flat = z @ self.masks.flatten(1)
        return (flat / self.coverage.flatten()).view(-1, *self.shape)

    def weights(self) -> torch.Tensor:
        """``[M, H·W]``: each feature's share of each pixel's keep-mask, the matrix :meth:`combine` applies."""
        return self.masks.flatten(1) / self.coverage.flatten()

    def project(self, scores: torch.Tensor) -> torch.Tensor:
        """Per-pixel map ``[H,W]``: each pixel gets the mask-weighted mean of its features' scores."""
        return self.combine(scores.to(self.masks)[None])[0]


SHIFT_BLOCK = 1024  # per-sample offsets are drawn in blocks of this many samples


@dataclass
class ShiftedGrid(Segmentation):
    """RISE cells: an ``s×s`` coalition grid upsampled to ``(s+1)·cell`` and cropped at a random
    per-sample offset, so cell borders fall anywhere. Sample ``n``'s offset depends only on ``seed``
    and ``n``, so masks never depend on the batch size or on how many samples are drawn."""

    per_sample: ClassVar[bool] = True
    cells: int = 7
    cell: tuple[int, int] = (32, 32)
    mode: str = "bilinear"
    seed: int = 0

    def offsets(self, index: torch.Tensor) -> torch.Tensor:
        """Offsets ``[n,2]`` (rows, cols) of samples ``index``, each block of samples from its own stream."""
        index = index.cpu()
        out = torch.empty(len(index), 2, dtype=torch.long)
        blocks = index // SHIFT_BLOCK
        for block in blocks.unique().tolist():
            generator = stream(self.seed, "grid shifts", block)
            drawn = torch.stack([torch.randint(0, c, (SHIFT_BLOCK,), generator=generator) for c in self.cell], 1)
            chosen = blocks == block
            out[chosen] = drawn[index[chosen] % SHIFT_BLOCK]
        return out

    def keep_masks(self, z: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        return shifted_cells(z, self.cells, self.cell, self.mode, self.offsets(index).to(z.device), self.shape)


def upsampling_matrix(cells: int, size: int, mode: str) -> torch.Tensor:
    """``[size, cells]`` weights that upsample ``cells`` values to ``size``: bilinear with half-pixel
    centres and mirrored borders (scikit-image ``resize(order=1, mode="reflect")``, as RISE used),
    or nearest cell for hard edges."""
    out = torch.arange(size, dtype=torch.float64)
    if mode != "bilinear":
        return torch.nn.functional.one_hot((out * cells / size).long().clamp_max(cells - 1), cells).float()
    u = (out + 0.5) * cells / size - 0.5
    low = torch.floor(u)
    frac = (u - low).float()
    weights = torch.zeros(size, cells)
    for index, weight in ((low.long(), 1 - frac), (low.long() + 1, frac)):
        mirrored = index.abs()
        if cells > 1:
            mirrored = torch.where(mirrored > cells - 1, 2 * (cells - 1) - mirrored, mirrored)
        else:
            mirrored = torch.zeros_like(mirrored)
        weights.index_put_((torch.arange(size), mirrored), weight, accumulate=True)
    return weights


def shifted_cells(
    z: torch.Tensor, cells: int, cell: tuple[int, int], mode: str, offsets: torch.Tensor, shape: tuple[int, int]
) -> torch.Tensor:
    """Upsample each ``cells×cells`` grid of ``z [n,cells²]`` to ``(cells+1)·cell`` and crop ``shape``
    at each row's ``offsets [n,2]``, without materialising the upsampled grids: ``[n,H,W]``."""
    h, w = shape
    rows = upsampling_matrix(cells, (cells + 1) * cell[0], mode).to(z)
    cols = upsampling_matrix(cells, (cells + 1) * cell[1], mode).to(z)
    rows = rows[offsets[:, :1] + torch.arange(h, device=z.device)]  # [n,H,cells]
    cols = cols[offsets[:, 1:] + torch.arange(w, device=z.device)]  # [n,W,cells]
    return torch.einsum("nhs,nst,nwt->nhw", rows, z.view(-1, cells, cells), cols)
