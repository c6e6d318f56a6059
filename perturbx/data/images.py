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


MAX_PIXELS = 8192 * 8192  # larger files are refused before they are decoded (decompression bombs)
_SCALE = {np.uint8: 255.0, np.uint16: 65535.0}


def to_tensor(picture: Any) -> torch.Tensor:
    """A PIL image, an ``[H,W]``/``[H,W,C]`` array (uint8, uint16, bool or float in [0,1]) or a ``[C,H,W]``
    tensor -> ``[3,H,W]`` float in [0,1]. One channel is repeated, a fourth (alpha) dropped, others refused."""
    if hasattr(picture, "mode") and hasattr(picture, "convert"):  # PIL
        picture = _pil_array(picture)
    if isinstance(picture, torch.Tensor):
        t = picture.detach().cpu()
        if t.dim() == 4 and t.shape[0] == 1:
            t = t[0]
        if t.dim() == 2:
            t = t[None]
        if t.dim() != 3:
            raise PerturbxError(f"image: expected a [C,H,W] tensor, got shape {tuple(picture.shape)}")
        t = _to_unit(t.numpy() if t.dtype in (torch.uint8, torch.bool) else t, "tensor")
    else:
        array = np.asarray(picture)
        if array.ndim == 2:
            array = array[..., None]
        if array.ndim != 3:
            raise PerturbxError(f"image: expected an [H,W] or [H,W,C] picture, got shape {array.shape}")
        t = _to_unit(array, "array").permute(2, 0, 1)
    if t.shape[0] not in (1, 3, 4) or min(t.shape) == 0:
        raise PerturbxError(
            f"image: expected 1 (grey), 3 (RGB) or 4 (RGBA) channels and a non-empty picture, got shape "
            f"{tuple(t.shape)} as [C,H,W]"
        )
    t = t.expand(3, -1, -1) if t.shape[0] == 1 else t[:3]
    if not torch.isfinite(t).all() or t.min() < 0 or t.max() > 1:
        raise PerturbxError("image: pixel values must be finite and in [0,1] (or uint8 / uint16)")
    return t.float().contiguous()


def _to_unit(values: Any, what: str) -> torch.Tensor:
    """Integers scaled by their type's maximum (uint8, uint16), booleans and floats as they are."""
    if isinstance(values, torch.Tensor):
        if not values.is_floating_point():
            raise PerturbxError(f"image: a {values.dtype} {what} is ambiguous; give floats in [0,1] or uint8")
        return values.float()
    array = np.asarray(values)
    if array.dtype.type in _SCALE:
        return torch.from_numpy(array.astype(np.float32) / _SCALE[array.dtype.type])
    if array.dtype == np.bool_:
        return torch.from_numpy(array.astype(np.float32))
    if array.dtype.kind != "f":
        raise PerturbxError(f"image: a {array.dtype} {what} is ambiguous; give floats in [0,1], uint8 or uint16")
    with np.errstate(over="ignore"):  # values beyond float32 become inf, refused below as not finite
        return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def _pil_array(img: Any) -> np.ndarray:
    """Pixels of a PIL image: 16-bit grey kept at full depth, float as is, everything else as 8-bit RGB."""
    if img.mode.startswith("I;16"):
        return np.asarray(img).astype(np.uint16)
    if img.mode == "I":  # 16-bit PNGs and 32-bit TIFFs decode to this; PNG values span 0..65535
        array = np.asarray(img)
        if array.min() < 0 or array.max() > 65535:
            raise PerturbxError("image: 32-bit integer pixels outside 0..65535 are not supported")
        return array.astype(np.uint16)
    if img.mode == "F":
        return np.asarray(img, dtype=np.float32)
    return np.asarray(img.convert("RGB"))


def read(source: str | Path) -> torch.Tensor:
    """A ``[3,H,W]`` image in [0,1] from a file path (any suffix, EXIF orientation applied) or a bundled name."""
    if not str(source).strip():
        raise PerturbxError(f"image: empty name; give a file path or one of {', '.join(BUNDLED_IMAGES)}")
    path = Path(source)
    if path.is_file():
        return to_tensor(_decode(path))
    if path.is_dir():
        raise PerturbxError(f"image: {str(path)!r} is a directory, not an image file")
    name = str(source)
    if name in BUNDLED_IMAGES:
        import skimage.data

        return to_tensor(getattr(skimage.data, name)())
    if path.suffix or len(path.parts) > 1:
        raise PerturbxError(f"image: no such file {name!r}")
    raise unknown_choice("image", name, BUNDLED_IMAGES)


def _decode(path: Path) -> Any:
    import warnings

    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                width, height = img.size
                if width * height > MAX_PIXELS:
                    raise Image.DecompressionBombError(f"{width}x{height}")
                img.load()
                return ImageOps.exif_transpose(img)
    except Image.DecompressionBombError:
        raise PerturbxError(
            f"image: {str(path)!r} is larger than the {MAX_PIXELS} pixels perturbx decodes; downscale it first"
        ) from None
    except UnidentifiedImageError:
        raise PerturbxError(f"image: {str(path)!r} is not an image file Pillow can read") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise PerturbxError(f"image: {str(path)!r} is damaged or truncated ({type(err).__name__})") from None


def image(source: Any = "chelsea", size: int | None = 224) -> torch.Tensor:
    """A ``[1,3,size,size]`` image in [0,1] from a bundled name, a file path, a PIL image or an array.

    The shorter side is resized to ``size`` (antialiased bilinear) and the centre cropped; ``size=None``
    keeps the original resolution.
    """
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 8):
        raise PerturbxError(f"size: expected an int >= 8, got {size!r}")
    t = read(source) if isinstance(source, (str, Path)) else to_tensor(source)
    if size is not None:
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
