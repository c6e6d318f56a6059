"""ViT and Swin: token maps reshaped (class token dropped), pytorch-grad-cam agreement, rollout
against a slow re-implementation, ViT IIA batching, and the fused-attention flag restored."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import perturbx as px
from perturbx.wrappers.attention import rollout


def vit() -> torch.nn.Module:
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    return timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=32, patch_size=8,
                             depth=3, num_classes=5).eval()


def swin() -> torch.nn.Module:
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    return timm.create_model("swin_tiny_patch4_window7_224", pretrained=False, img_size=32, patch_size=2,
                             window_size=4, embed_dim=24, depths=(1, 1), num_heads=(2, 2), num_classes=5).eval()


def adapter(model: torch.nn.Module) -> px.ModelAdapter:
    return px.ModelAdapter(model, output="logit", batch_size=8, channels_last=False)


def x2() -> torch.Tensor:
    return torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(4))


def test_vit_gradcam_matches_pytorch_grad_cam_with_its_reshape() -> None:
    gc = pytest.importorskip("pytorch_grad_cam")
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
    model, x = vit(), x2()
    ours = px.build("explainer", "gradcam").explain(adapter(model), x, [1, 3])
    assert ours.meta["layers"] == ["blocks.2.norm1"]

    def reshape(t: torch.Tensor) -> torch.Tensor:  # drop the class token, 4x4 grid, channels first
        return t[:, 1:].reshape(t.shape[0], 4, 4, t.shape[2]).permute(0, 3, 1, 2)

    with gc.GradCAM(model=model, target_layers=[model.blocks[2].norm1], reshape_transform=reshape) as cam:
        theirs = cam(input_tensor=x, targets=[ClassifierOutputTarget(1), ClassifierOutputTarget(3)])
    assert np.abs(ours.maps[:, 0].numpy() - theirs).max() < 1e-4


def test_swin_gradcam_matches_pytorch_grad_cam_with_nhwc_layout() -> None:
    gc = pytest.importorskip("pytorch_grad_cam")
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
    model, x = swin(), x2()
    ours = px.build("explainer", "gradcam").explain(adapter(model), x, [0, 2])
    assert ours.meta["layers"] == ["layers.1.blocks.0.norm1"]
    with gc.GradCAM(model=model, target_layers=[model.layers[1].blocks[0].norm1],
                    reshape_transform=lambda t: t.permute(0, 3, 1, 2)) as cam:
        theirs = cam(input_tensor=x, targets=[ClassifierOutputTarget(0), ClassifierOutputTarget(2)])
    assert np.abs(ours.maps[:, 0].numpy() - theirs).max() < 1e-4


def slow_attention(model: torch.nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """Each block's attention probabilities from its qkv weights, recomputed by hand."""
    inputs = []
    handles = [b.norm1.register_forward_hook(lambda m, i, o: inputs.append(o)) for b in model.blocks]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    result = []
    for block, t in zip(model.blocks, inputs):
        attn = block.attn
        qkv = attn.qkv(t).reshape(t.shape[0], t.shape[1], 3, attn.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k = qkv[0], qkv[1]
        result.append((q @ k.transpose(-2, -1) * attn.scale).softmax(dim=-1))
    return result


def test_attention_rollout_matches_a_slow_rollout() -> None:
    model, x = vit(), x2()
    exp = px.build("explainer", "attention_rollout").explain(adapter(model), x)
    joint = None
    for a in slow_attention(model, x):
        a = a.mean(dim=1) + torch.eye(a.shape[-1])
        a = a / a.sum(dim=-1, keepdim=True)
        joint = a if joint is None else a @ joint
    grid = joint[:, 0, 1:].reshape(2, 1, 4, 4)
    expected = torch.nn.functional.interpolate(grid, size=(32, 32), mode="bilinear", align_corners=False)
    lo = expected.amin(dim=(2, 3), keepdim=True)
    expected = (expected - lo) / ((expected - lo).amax(dim=(2, 3), keepdim=True) + 1e-7)
    assert torch.allclose(exp.maps, expected, atol=1e-5)
    assert all(b.attn.fused_attn for b in model.blocks)


def test_rollout_of_uniform_attention_is_uniform_over_patches() -> None:
    n = 1 + 9
    uniform = torch.full((1, 2, n, n), 1.0 / n)
    maps = rollout([uniform, uniform], grid=(3, 3))
    assert maps.shape == (1, 3, 3)
    assert torch.allclose(maps, maps[0, 0, 0].expand_as(maps))
    discarded = rollout([uniform], grid=(3, 3), discard_ratio=0.5)
    assert torch.isfinite(discarded).all()


def test_vit_iia_counts_its_queries_and_restores_the_model() -> None:
    model, x = vit(), x2()
    explainer = px.build("explainer", {"name": "vit_iia", "steps": 2})
    batch = explainer.explain(adapter(model), x, [1, 3], batch_size=3)
    assert batch.maps.shape == (2, 1, 32, 32) and batch.n_queries == 2 * (1 + 4)
    assert all(b.attn.fused_attn for b in model.blocks)
    assert all(not b.attn.attn_drop._forward_hooks for b in model.blocks)


@pytest.mark.parametrize("name", ["gradcam", "scorecam", "layercam", "eigencam"])
def test_cam_methods_run_on_vit_tokens(name: str) -> None:
    size = 64 if name == "scorecam" else None
    exp = px.build("explainer", name).explain(adapter(vit()), x2(), [0, 1], batch_size=size)
    assert exp.maps.shape == (2, 1, 32, 32) and torch.isfinite(exp.maps).all()


@pytest.mark.parametrize("name,params,fail_at", [("attention_rollout", {}, 1), ("vit_iia", {"steps": 2}, 2)])
def test_fused_attention_flag_and_hooks_restored_after_a_failure(name: str, params: dict, fail_at: int) -> None:
    model = vit()
    calls = []

    def fail(module: torch.nn.Module, inputs: object) -> None:  # fails inside the hooked forward pass
        calls.append(1)
        if len(calls) >= fail_at:
            raise RuntimeError("boom")

    handle = model.blocks[1].register_forward_pre_hook(fail)
    with pytest.raises(RuntimeError, match="boom"):
        px.build("explainer", {"name": name, **params}).explain(adapter(model), x2()[:1], 0)
    handle.remove()
    assert all(b.attn.fused_attn for b in model.blocks)
    assert all(not b.attn.attn_drop._forward_hooks for b in model.blocks)
