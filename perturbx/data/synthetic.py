"""A ground-truth benchmark made on the fly: the class of an image is the shape and colour of one
target object, whose pixel mask is returned with it; distractors and textured backgrounds carry no
class information.

Classes are ``{red, blue} × {square, disc, triangle}``. Distractors are a class shape in a non-class
colour (green, yellow), a non-class shape (cross, ring) in a class colour, or a non-class shape in a
non-class colour, so no distractor is ever a class combination and neither colour nor shape alone
names the class. Objects never overlap, so the target is fully visible and its mask is exact.
Image ``i`` of seed ``s`` is drawn from its own stream ``numpy.random.default_rng([s, i])``: the same
whatever ``n`` or ``start``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from perturbx.errors import PerturbxError

SHAPES = ("square", "disc", "triangle", "cross", "ring")
CLASS_SHAPES = (0, 1, 2)
OTHER_SHAPES = (3, 4)
COLOURS = {
    "red": (0.85, 0.12, 0.10),
    "blue": (0.12, 0.25, 0.90),
    "green": (0.15, 0.75, 0.20),
    "yellow": (0.92, 0.85, 0.15),
}
CLASS_COLOURS = ("red", "blue")
OTHER_COLOURS = ("green", "yellow")
CLASSES = tuple(f"{colour} {SHAPES[shape]}" for colour in CLASS_COLOURS for shape in CLASS_SHAPES)
MAX_DISTRACTORS = 3
_SLOTS = 1 + MAX_DISTRACTORS
_CHUNK = 512


@dataclass
class SyntheticSet:
    """Images ``[n,3,S,S]`` in [0,1], labels ``[n]``, target-object masks ``[n,1,S,S]`` and class names."""

    images: torch.Tensor
    labels: torch.Tensor
    masks: torch.Tensor
    classes: list[str]

    def __len__(self) -> int:
        return len(self.labels)


def synthetic(n: int, seed: int = 0, size: int = 64, start: int = 0) -> SyntheticSet:
    """Images ``start .. start+n-1`` of the benchmark drawn with ``seed``; labels cycle through the classes."""
    for name, value, low in (("n", n, 1), ("seed", seed, 0), ("size", size, 32), ("start", start, 0)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise PerturbxError(f"synthetic: {name} must be an int >= {low}, got {value!r}")
    params = [_draw(seed, start + k, size) for k in range(n)]
    images, masks = [], []
    for lo in range(0, n, _CHUNK):
        chunk = params[lo : lo + _CHUNK]
        picture, mask = _render({key: np.stack([p[key] for p in chunk]) for key in chunk[0]}, size)
        images.append(picture)
        masks.append(mask)
    labels = torch.tensor([p["label"] for p in params], dtype=torch.long)
    return SyntheticSet(torch.cat(images), labels, torch.cat(masks), list(CLASSES))


def _draw(seed: int, index: int, size: int) -> dict[str, np.ndarray]:
    """Every random choice of one image, from its own stream."""
    rng = np.random.default_rng([seed, index])
    label = index % len(CLASSES)
    shapes = np.zeros(_SLOTS, np.int64)
    colours = np.zeros((_SLOTS, 3), np.float32)
    boxes = np.zeros((_SLOTS, 3), np.float32)  # centre y, centre x, side
    present = np.zeros(_SLOTS, bool)
    shapes[0] = CLASS_SHAPES[label % len(CLASS_SHAPES)]
    colours[0] = _jitter(rng, CLASS_COLOURS[label // len(CLASS_SHAPES)])
    for slot in range(int(rng.integers(1, MAX_DISTRACTORS + 1)) + 1):
        if slot > 0:
            shapes[slot], colours[slot] = _distractor(rng)
        box = _place(rng, boxes[present], size, slot == 0)
        if box is not None:
            boxes[slot], present[slot] = box, True
    return {
        "label": np.int64(label),
        "shapes": shapes,
        "colours": colours,
        "boxes": boxes,
        "present": present,
        **_background(rng, size),
    }


def _jitter(rng: np.random.Generator, colour: str) -> np.ndarray:
    return np.clip(np.array(COLOURS[colour], np.float32) + rng.uniform(-0.06, 0.06, 3).astype(np.float32), 0, 1)


def _distractor(rng: np.random.Generator) -> tuple[int, np.ndarray]:
    """A shape-colour pair that is never a class: at least one of the two is a non-class one."""
    kind = rng.integers(3)
    shape = rng.choice(CLASS_SHAPES if kind == 0 else OTHER_SHAPES)
    colour = rng.choice(OTHER_COLOURS if kind != 1 else CLASS_COLOURS)
    return int(shape), _jitter(rng, str(colour))


def _place(rng: np.random.Generator, taken: np.ndarray, size: int, target: bool) -> np.ndarray | None:
    """A box 2 px clear of every box already placed (rejection sampling; None if none fits). The target
    comes first, so it is always placed."""
    scale = size / 64
    for _ in range(50):
        side = rng.uniform(14, 22) * scale if target else rng.uniform(10, 20) * scale
        centre = rng.uniform(side / 2 + 1, size - side / 2 - 1, 2)
        gap = np.abs(taken[:, :2] - centre) - (taken[:, 2:] + side) / 2
        if len(taken) == 0 or (gap.max(1) >= 2 * scale).all():
            return np.array([*centre, side], np.float32)
    return None


def _background(rng: np.random.Generator, size: int) -> dict[str, np.ndarray]:
    """Parameters of a muted texture: smooth colour noise, stripes or blobs, plus fine grain."""
    base = rng.uniform(0.3, 0.7) + rng.uniform(-0.12, 0.12, 3)
    return {
        "kind": np.int64(rng.integers(3)),
        "base": base.astype(np.float32),
        "amplitude": np.float32(rng.uniform(0.1, 0.25)),
        "coarse": rng.uniform(-1, 1, (3, 6, 6)).astype(np.float32),
        "stripe": np.array(
            [rng.uniform(0, np.pi), rng.uniform(2, 8) / size, rng.uniform(0, 2 * np.pi)], np.float32
        ),
        "stripe_tint": rng.uniform(-1, 1, 3).astype(np.float32),
        "blob_centres": rng.uniform(0, size, (4, 2)).astype(np.float32),
        "blob_radii": rng.uniform(4, 16, 4).astype(np.float32) * size / 64,
        "blob_tints": rng.uniform(-1, 1, (4, 3)).astype(np.float32),
        "grain": 0.03 * rng.standard_normal((3, size, size), dtype=np.float32),
    }


def _render(p: dict[str, np.ndarray], size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Backgrounds and objects of a chunk of images at once (objects never overlap, so order does not matter)."""
    t = {key: torch.from_numpy(value) for key, value in p.items()}
    n = len(t["kind"])
    b, slot = t["present"].nonzero(as_tuple=True)
    objects = torch.zeros(n, _SLOTS, size, size, dtype=torch.bool)
    objects[b, slot] = _shape_masks(t["shapes"][b, slot], t["boxes"][b, slot], size)
    image = _texture(t, size)
    for k in range(_SLOTS):
        image = torch.where(objects[:, k : k + 1], t["colours"][:, k, :, None, None], image)
    return image.clamp(0, 1), objects[:, :1].clone()


def _texture(t: dict[str, torch.Tensor], size: int) -> torch.Tensor:
    """The background of each image: its kind of texture around a muted base colour, plus grain."""
    n = len(t["kind"])
    texture = torch.empty(n, 3, size, size)
    for kind, make in enumerate((_coarse, _stripes, _blobs)):
        pick = (t["kind"] == kind).nonzero().flatten()
        if len(pick):
            texture[pick] = make({key: value[pick] for key, value in t.items()}, size)
    return t["base"][:, :, None, None] + t["amplitude"].view(n, 1, 1, 1) * texture + t["grain"]


def _coarse(t: dict[str, torch.Tensor], size: int) -> torch.Tensor:
    return F.interpolate(t["coarse"], size=(size, size), mode="bicubic", align_corners=False)


def _stripes(t: dict[str, torch.Tensor], size: int) -> torch.Tensor:
    axis = _axis(size)
    angle, frequency, phase = t["stripe"].unbind(1)
    across = 2 * torch.pi * frequency[:, None] * torch.cos(angle)[:, None] * axis + phase[:, None]  # [b,S] along x
    down = 2 * torch.pi * frequency[:, None] * torch.sin(angle)[:, None] * axis  # [b,S] along y
    wave = torch.sin(down[:, :, None] + across[:, None, :])
    return wave[:, None] * t["stripe_tint"][:, :, None, None]


def _blobs(t: dict[str, torch.Tensor], size: int) -> torch.Tensor:
    axis = _axis(size)
    cy, cx = (v[..., None] for v in t["blob_centres"].unbind(2))  # [b,4,1]
    width = 2 * t["blob_radii"][..., None] ** 2
    rows, cols = torch.exp(-((axis - cy) ** 2) / width), torch.exp(-((axis - cx) ** 2) / width)  # [b,4,S]
    return torch.einsum("bky,bkx,bkc->bcyx", rows, cols, t["blob_tints"])


def _axis(size: int) -> torch.Tensor:
    """Pixel-centre coordinates along one side."""
    return torch.arange(size, dtype=torch.float32) + 0.5


def _shape_masks(shapes: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """Hard masks ``[objects,S,S]`` from each object's kind and box (centre y, centre x, side)."""
    axis = _axis(size)
    masks = torch.zeros(len(shapes), size, size, dtype=torch.bool)
    for kind, name in enumerate(SHAPES):
        pick = (shapes == kind).nonzero().flatten()
        if len(pick):
            cy, cx, side = (v[:, None, None] for v in boxes[pick].unbind(1))
            masks[pick] = _outline(name, axis[:, None] - cy, axis[None, :] - cx, side)
    return masks


def _outline(name: str, dy: torch.Tensor, dx: torch.Tensor, side: torch.Tensor) -> torch.Tensor:
    """Pixels of one kind of shape from offsets to its box centre, ``dy [n,S,1]`` and ``dx [n,1,S]``."""
    half = side / 2
    rows, cols = dy.abs() <= half, dx.abs() <= half
    if name == "square":
        return rows & cols
    if name == "triangle":  # apex up, base at the bottom of the box
        return rows & (dx.abs() <= (dy + half) / 2)
    if name == "cross":
        return (rows & (dx.abs() <= side / 6)) | (cols & (dy.abs() <= side / 6))
    r2 = dy**2 + dx**2
    disc = r2 <= half**2
    return disc if name == "disc" else disc & (r2 >= (half - side / 5) ** 2)
