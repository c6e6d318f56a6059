"""Named models, the bundled EfficientNet-Lite0 and image loading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import perturbx as px


def test_our_efficientnet_lite0_equals_timm(real_model: torch.nn.Module) -> None:
    timm = pytest.importorskip("timm")
    reference = timm.create_model("efficientnet_lite0", pretrained=False).eval()
    keys = reference.state_dict().keys()
    reference.load_state_dict(dict(zip(keys, real_model.net.state_dict().values(), strict=True)))
    x = torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(real_model(x), reference((x - real_model.mean) / real_model.std))


@pytest.mark.parametrize("name,accepted", [("chelsea", {281, 282, 285}), ("coffee", {967, 968, 504})])
def test_bundled_model_recognises_bundled_photos(real_model: torch.nn.Module, name: str, accepted: set) -> None:
    with torch.no_grad():
        top = int(real_model(px.data.image(name)).argmax())
    assert top in accepted, real_model.label(top)


def test_class_names() -> None:
    names = px.models.imagenet_classes()
    assert len(names) == 1000 and names[285] == "Egyptian cat"


def test_unknown_or_unavailable_models_are_clear_errors() -> None:
    with pytest.raises(px.PerturbxError, match="unknown model"):
        px.models.load("no_such_model_anywhere")
    with pytest.raises(px.PerturbxError, match="unknown source"):
        px.models.load("hub:resnet")
    tv = pytest.importorskip("torchvision")
    cached = Path(torch.hub.get_dir()) / "checkpoints"
    weights = tv.models.get_model_weights("resnet18").DEFAULT
    if not (cached / Path(weights.url).name).exists():
        with pytest.raises(px.PerturbxError, match="not on this machine"):
            px.models.load("torchvision:resnet18")
    random = px.models.load("torchvision:resnet18", pretrained=False)
    assert random(torch.rand(1, 3, 64, 64)).shape == (1, 1000)


def test_image_sources(tmp_path: Path) -> None:
    from PIL import Image

    array = (np.random.default_rng(0).random((40, 60, 3)) * 255).astype(np.uint8)
    path = tmp_path / "photo.png"
    Image.fromarray(array).save(path)
    from_path = px.data.image(path, size=32)
    from_pil = px.data.image(Image.fromarray(array), size=32)
    from_array = px.data.image(array, size=32)
    assert from_path.shape == (1, 3, 32, 32)
    torch.testing.assert_close(from_path, from_pil)
    torch.testing.assert_close(from_pil, from_array)
    assert px.data.image("chelsea").shape == (1, 3, 224, 224)
    assert px.data.image(array, size=None).shape == (1, 3, 40, 60)


@pytest.mark.parametrize(
    "bad,match",
    [
        ("chelsy", "Did you mean 'chelsea'"),
        ("x.png", "no such file"),
        (np.zeros((2, 2, 2, 2)), "expected an"),
        (np.full((4, 4, 3), 2.0), "[0,1]"),
    ],
)
def test_bad_images(bad: object, match: str) -> None:
    with pytest.raises(px.PerturbxError, match=match):
        px.data.image(bad)
