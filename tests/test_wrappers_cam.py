"""CAM methods: agreement with pytorch-grad-cam, per-image batching, localisation, layers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_wrappers_support import images, logits, small_cnn
from torch import nn

import perturbx as px
from perturbx.errors import PerturbxError
from perturbx.wrappers import layers as L

PEERS = {
    "gradcam": "GradCAM",
    "gradcam++": "GradCAMPlusPlus",
    "xgradcam": "XGradCAM",
    "layercam": "LayerCAM",
    "hirescam": "HiResCAM",
    "gradcam_elementwise": "GradCAMElementWise",
    "scorecam": "ScoreCAM",
    "ablationcam": "AblationCAM",
    "eigencam": "EigenCAM",
    "eigengradcam": "EigenGradCAM",
}
OPTIONS = {"eigencam": {"sign_correction": False}, "eigengradcam": {"sign_correction": False}}


def peer_maps(peer: str, model: nn.Module, layers: list[nn.Module], x: torch.Tensor, classes: list[int]) -> np.ndarray:
    gc = pytest.importorskip("pytorch_grad_cam")
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    with getattr(gc, peer)(model=model, target_layers=layers) as cam:
        if hasattr(cam, "batch_size"):
            cam.batch_size = 7  # any chunking; results must not depend on it
        return cam(input_tensor=x, targets=[ClassifierOutputTarget(c) for c in classes])


def names() -> list[str]:
    return [n for n in PEERS if n in px.registry.names("explainer")]


@pytest.mark.parametrize("method", names())
def test_matches_pytorch_grad_cam(method: str) -> None:
    model, x, classes = small_cnn(), images(3), [0, 3, 1]
    ours = px.build("explainer", {"name": method, "layers": "5", **OPTIONS.get(method, {})})
    exp = ours.explain(logits(model), x, torch.tensor(classes))
    theirs = peer_maps(PEERS[method], model, [model[5]], x, classes)
    assert exp.maps.shape == (3, 1, 32, 32)
    assert np.abs(exp.maps[:, 0].numpy() - theirs).max() < 1e-4


@pytest.mark.parametrize("method", ["gradcam", "layercam"])
def test_several_layers_match(method: str) -> None:
    model, x, classes = small_cnn(), images(2), [2, 4]
    exp = px.build("explainer", {"name": method, "layers": [model[3], "6"]}).explain(logits(model), x, classes)
    theirs = peer_maps(PEERS[method], model, [model[3], model[6]], x, classes)
    assert exp.meta["layers"] == ["3", "6"]
    assert exp.meta["per_layer"].shape == (2, 2, 1, 32, 32)
    assert np.abs(exp.maps[:, 0].numpy() - theirs).max() < 1e-4


class Window(nn.Module):
    """Zero everything outside rows and columns 4..11."""

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        keep = torch.zeros_like(a)
        keep[..., 4:12, 4:12] = 1
        return a * keep


class OneRegion(nn.Module):
    """A model that only sees the region 4..11 × 4..11: class 0 scores its brightness, class 1 the opposite."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), Window())
        torch.manual_seed(0)
        with torch.no_grad():
            self.features[0].weight.uniform_(0, 0.1)
            self.features[0].bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.features(x).mean(dim=(1, 2, 3))
        return torch.stack([s, -s], dim=1)


@pytest.mark.parametrize("method", ["gradcam", "gradcam++", "xgradcam", "layercam", "hirescam", "scorecam"])
def test_cam_peaks_in_the_region_the_model_looks_at(method: str) -> None:
    x = images(1)
    maps = px.build("explainer", {"name": method, "layers": "features"}).explain(logits(OneRegion()), x, 0).maps
    peak = divmod(int(maps[0, 0].argmax()), 32)
    assert 4 <= peak[0] < 12 and 4 <= peak[1] < 12
    assert maps[0, 0, 4:12, 4:12].mean() > 5 * maps[0, 0, 20:, 20:].mean()


def test_cam_equals_gradcam_for_a_gap_linear_head() -> None:
    model, x = small_cnn(), images(2)
    cam = px.build("explainer", {"name": "cam", "layers": "6"}).explain(logits(model), x, [0, 2]).maps
    grad = px.build("explainer", {"name": "gradcam", "layers": "6"}).explain(logits(model), x, [0, 2]).maps
    assert torch.allclose(cam, grad, atol=1e-5)


def test_default_layers_per_family() -> None:
    """The feature extractor's last activation (ViT: the last block's first norm, pytorch-grad-cam's choice)."""
    assert L.default_layer_name(small_cnn()) == "6"
    model = px.models.load("efficientnet_lite0", pretrained=False)
    assert L.default_layer_name(model) == "net.head"
    tv = pytest.importorskip("torchvision")
    assert L.default_layer_name(tv.models.resnet18()) == "layer4.1"
    assert L.default_layer_name(tv.models.efficientnet_b0()) == "features.8.2"
    assert L.default_layer_name(tv.models.vgg11()) == "features.19"
    timm = pytest.importorskip("timm")
    expected = {"resnet18": "layer4.1", "efficientnet_b0": "bn2", "convnext_atto": "stages.3"}
    for name, layer in expected.items():
        assert L.default_layer_name(timm.create_model(name, pretrained=False, num_classes=3)) == layer
    vit = timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=32, patch_size=8)
    assert L.default_layer_name(vit) == "blocks.11.norm1"


def test_default_layer_is_where_timm_feature_extractors_end() -> None:
    """Its output is ``forward_features``: after EfficientNet's head conv, norm and activation (``bn2``),
    not at ``conv_head`` as before."""
    timm = pytest.importorskip("timm")
    x = images(1, size=64)
    for name in ("resnet18", "efficientnet_b0", "convnext_atto"):
        model = timm.create_model(name, pretrained=False, num_classes=3).eval()
        layer = model.get_submodule(L.default_layer_name(model))
        record = []
        handle = layer.register_forward_hook(lambda m, i, out, record=record: record.append(out))
        with torch.no_grad():
            features = model.forward_features(x)
        handle.remove()
        assert torch.equal(record[-1], features), name


def test_bad_layers_fail_before_any_query() -> None:
    model = small_cnn()
    calls = []
    model.register_forward_pre_hook(lambda m, i: calls.append(1))
    with pytest.raises(PerturbxError, match="no module 'nope'"):
        px.build("explainer", {"name": "gradcam", "layers": "nope"}).explain(model, images(1))
    with pytest.raises(PerturbxError, match="not part of the model"):
        px.build("explainer", {"name": "gradcam", "layers": nn.Conv2d(1, 1, 1)}).explain(model, images(1))
    assert not calls


def test_fullgrad_matches_pytorch_grad_cam() -> None:
    model, x, classes = small_cnn(), images(2), [1, 3]
    exp = px.build("explainer", "fullgrad").explain(logits(model), x, classes)
    theirs = peer_maps("FullGrad", model, [], x, classes)
    assert np.abs(exp.maps[:, 0].numpy() - theirs).max() < 1e-4


@pytest.mark.slow
def test_gradcam_matches_pytorch_grad_cam_on_efficientnet_lite0() -> None:
    model = px.models.load("efficientnet_lite0")
    x = images(1, size=224)
    exp = px.build("explainer", "gradcam").explain(px.ModelAdapter(model, output="logit", batch_size=4), x, 1)
    assert exp.meta["layers"] == ["net.head"]
    theirs = peer_maps("GradCAM", model, [model.net.head], x, [1])
    assert np.abs(exp.maps[:, 0].numpy() - theirs).max() < 1e-4


def test_layer_outputs_become_nchw_maps() -> None:
    t = torch.arange(2 * 5 * 3, dtype=torch.float32).view(2, 5, 3)  # 1 class token + 2x2 patches, 3 channels
    maps = L.Layer("t", nn.Identity()).to_maps(t)
    assert maps.shape == (2, 3, 2, 2) and torch.equal(maps[:, :, 0, 0], t[:, 1])
    registers = torch.randn(1, 4 + 16, 8)  # 4 prefix tokens (class + registers), 4x4 grid
    assert torch.equal(L.Layer("r", nn.Identity(), grid=(4, 4)).to_maps(registers)[0, :, 3, 3], registers[0, -1])
    nhwc = torch.randn(1, 3, 4, 6)
    assert torch.equal(L.Layer("s", nn.Identity(), channels_last=True).to_maps(nhwc), nhwc.permute(0, 3, 1, 2))
    with pytest.raises(PerturbxError, match="square grid"):
        L.token_grid(120)
