"""Hostile image files and arrays: each is read correctly or refused with one clear PerturbxError."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import perturbx as px
from perturbx.data.images import MAX_PIXELS


def png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG whose header claims ``width x height`` grey pixels (no pixel data): a decompression bomb's shape."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda p: p.write_bytes(b""), "not an image file"),
        (lambda p: p.write_text("hello, I am text"), "not an image file"),
        (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40), "not an image file|damaged"),
        (lambda p: png_header_only(p, 20000, 20000), "larger than"),
        (lambda p: png_header_only(p, 9000, 9000), "larger than"),
        (lambda p: p.mkdir(), "is a directory"),
    ],
    ids=["zero-byte", "text", "corrupt", "bomb-20000", "bomb-9000", "directory"],
)
def test_bad_image_files_are_refused_clearly(tmp_path: Path, make: object, match: str) -> None:
    path = tmp_path / "x.png"
    make(path)
    with pytest.raises(px.PerturbxError, match=match) as info:
        px.data.image(path)
    assert len(str(info.value)) < 200
    assert MAX_PIXELS < 9000 * 9000


def test_truncated_png_is_refused(tmp_path: Path) -> None:
    Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(px.PerturbxError, match=r"damaged|not an image"):
        px.data.image(tmp_path / "cut.png")


def test_png_without_suffix_is_read(tmp_path: Path) -> None:
    Image.fromarray(np.full((20, 20, 3), 51, np.uint8)).save(tmp_path / "picture", format="PNG")
    x = px.data.image(tmp_path / "picture", size=None)
    assert x.shape == (1, 3, 20, 20) and torch.allclose(x, torch.full_like(x, 0.2))


def test_16_bit_grey_png_keeps_its_range(tmp_path: Path) -> None:
    values = np.array([[0, 1000, 30000, 65535]], dtype=np.uint16).repeat(4, axis=0)
    Image.fromarray(values).save(tmp_path / "deep.png")
    x = px.data.image(tmp_path / "deep.png", size=None)
    expected = torch.tensor(values / 65535.0, dtype=torch.float32)
    assert torch.allclose(x[0, 0], expected) and torch.equal(x[0, 0], x[0, 2])
    assert 0.4 < float(x[0, 0, 0, 2]) < 0.5  # 30000 / 65535, not saturated to 1


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    array = np.zeros((10, 30, 3), np.uint8)
    array[:, :10] = 255  # white on the left of a wide picture
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    Image.fromarray(array).save(tmp_path / "phone.jpg", exif=exif, quality=100)
    x = px.data.image(tmp_path / "phone.jpg", size=None)
    assert x.shape == (1, 3, 30, 10)  # displayed upright: tall
    assert float(x[0, 0, :10].mean()) > 0.9 and float(x[0, 0, 20:].mean()) < 0.1  # white now on top


@pytest.mark.parametrize(
    "picture,expected",
    [
        (np.full((8, 8), 255, np.uint8), 1.0),
        (np.full((8, 8, 1), 0.25, np.float32), 0.25),
        (np.full((8, 8, 4), 32768, np.uint16), 32768 / 65535),
        (np.ones((8, 8, 3), bool), 1.0),
        (torch.full((4, 8, 8), 0.5), 0.5),
        (torch.full((8, 8), 0.5), 0.5),
        (torch.full((1, 1, 8, 8), 128, dtype=torch.uint8), 128 / 255),
    ],
    ids=["grey-uint8", "grey-float", "rgba-uint16", "bool", "rgba-tensor", "hw-tensor", "uint8-tensor"],
)
def test_one_and_four_channel_pictures_become_rgb(picture: object, expected: float) -> None:
    t = px.data.to_tensor(picture)
    assert t.shape == (3, 8, 8) and t.dtype == torch.float32
    assert torch.allclose(t, torch.full_like(t, expected))


@pytest.mark.parametrize(
    "picture,match",
    [
        (np.zeros((8, 8, 2), np.float32), "1 .grey., 3 .RGB. or 4"),
        (torch.zeros(2, 8, 8), "1 .grey., 3 .RGB. or 4"),
        (np.zeros((8, 8, 5), np.uint8), "channels"),
        (np.zeros((0, 8, 3), np.uint8), "non-empty"),
        (np.full((8, 8, 3), 300, np.int64), "ambiguous"),
        (np.full((8, 8, 3), np.nan, np.float32), "finite"),
        (np.zeros((2, 8, 8, 3), np.float32), r"\[H,W\]"),
    ],
    ids=["2-channel-array", "2-channel-tensor", "5-channel", "empty", "int64", "nan", "batch-array"],
)
def test_pictures_that_cannot_be_images_are_refused(picture: object, match: str) -> None:
    with pytest.raises(px.PerturbxError, match=match):
        px.data.to_tensor(picture)


def test_names_and_paths(tmp_path: Path) -> None:
    with pytest.raises(px.PerturbxError, match="Did you mean 'chelsea'"):
        px.data.image("chelsee")
    with pytest.raises(px.PerturbxError, match="no such file"):
        px.data.image(tmp_path / "nope.png")
    with pytest.raises(px.PerturbxError, match="empty name"):
        px.data.image("")
    with pytest.raises(px.PerturbxError, match="size"):
        px.data.image("chelsea", size=True)
