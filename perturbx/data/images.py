"""Load a photo and bring it to the model's input size: shorter side resized, then centre-cropped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from perturbx.errors import PerturbxError, unknown_choice

# scikit-image's bundled real photos that work as ImageNet inputs
BUNDLED_IMAGES = ("chelsea", "coffee", "astronaut", "rocket", "cat")


def to_tensor(picture: Any) -> torch.Tensor:
    """A PIL image, an ``[H,W]``/``[H,W,C]`` uint8 or float array, or a ``[C,H,W]`` tensor -> ``[3,H,W]`` in [0,1]."""
    if isinstance(picture, torch.Tensor):
        t = picture.detach().float().cpu()
        if t.dim() == 4 and t.shape[0] == 1:
            t = t[0]
        if t.dim() != 3:
            raise PerturbxError(f"image: expected a [C,H,W] tensor, got shape {tuple(picture.shape)}")
    else:
        if hasattr(picture, "convert"):  # PIL
            picture = np.asarray(picture.convert("RGB"))
        array = np.asarray(picture)
        if array.dtype == np.uint8:
            array = array.astype(np.float32) / 255.0
        if array.ndim == 2:
            array = np.repeat(array[..., None], 3, axis=-1)
        if array.ndim != 3:
            raise PerturbxError(f"image: expected an [H,W,C] picture, got shape {array.shape}")
        t = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)).permute(2, 0, 1)
    if t.shape[0] == 1:
        t = t.expand(3, -1, -1)
    if t.shape[0] == 4:
        t = t[:3]
    if not torch.isfinite(t).all() or t.min() < 0 or t.max() > 1:
        raise PerturbxError("image: pixel values must be finite and in [0,1] (or uint8)")
    return t.contiguous()


def image(source: Any = "chelsea", size: int | None = 224) -> torch.Tensor:
    """A ``[1,3,size,size]`` image in [0,1] from a bundled name, a file path, a PIL image or an array.

    The shorter side is resized to ``size`` (antialiased bilinear) and the centre cropped; ``size=None``
    keeps the original resolution.
    """
    if isinstance(source, (str, Path)):
        source = _read(source)
    t = to_tensor(source)
    if size is not None:
        if not isinstance(size, int) or size < 8:
            raise PerturbxError(f"size: expected an int >= 8, got {size!r}")
        t = resize_crop(t, size)
    return t.unsqueeze(0)


def resize_crop(t: torch.Tensor, size: int) -> torch.Tensor:
    """Resize the shorter side to ``size`` and crop the centre square."""
    h, w = t.shape[-2:]
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    t = F.interpolate(t[None], size=(nh, nw), mode="bilinear", antialias=True, align_corners=False)[0]
    top, left = (nh - size) // 2, (nw - size) // 2
    return t[:, top : top + size, left : left + size].clamp(0, 1)


def _read(source: str | Path) -> Any:
    path = Path(source)
    if path.suffix and path.exists():
        from PIL import Image

        with Image.open(path) as img:
            return img.convert("RGB")
    name = str(source)
    if name in BUNDLED_IMAGES:
        import skimage.data

        return getattr(skimage.data, name)()
    if path.suffix:
        raise PerturbxError(f"image: no such file {str(path)!r}")
    raise unknown_choice("image", name, BUNDLED_IMAGES)
