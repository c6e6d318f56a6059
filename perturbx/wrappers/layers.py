"""Target layers for CAM methods: resolution by name or object, per-family defaults, and the
reshape of any layer output (NCHW, NHWC, tokens with a class token) to ``[B,C,h,w]`` maps."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from perturbx.errors import PerturbxError

LayerSpec = str | nn.Module
LayersSpec = LayerSpec | Sequence[LayerSpec] | None
Layout = Literal["auto", "nchw", "nhwc", "tokens"]
MAX_PREFIX = 8  # class, distillation and register tokens before the patch tokens


@dataclass
class Layer:
    """A resolved target layer: its dotted name, the module, and how its outputs are laid out."""

    name: str
    module: nn.Module
    layout: Layout = "auto"
    grid: tuple[int, int] | None = None
    channels_last: bool = False

    def layout_of(self, t: torch.Tensor) -> Layout:
        """The layout of output ``t``: as declared, or (auto) tokens for 3-D and NCHW/NHWC by family for 4-D."""
        if self.layout != "auto":
            return self.layout
        if t.dim() == 3:
            return "tokens"
        return "nhwc" if self.channels_last else "nchw"

    def channel_dim(self, t: torch.Tensor) -> int:
        """The channel axis of the raw output ``t`` (1 for NCHW, last for NHWC and tokens)."""
        return 1 if self.layout_of(t) == "nchw" else t.dim() - 1

    def to_maps(self, t: torch.Tensor) -> torch.Tensor:
        """The raw output ``t`` of this layer as ``[B,C,h,w]``."""
        layout = self.layout_of(t)
        if layout == "nchw":
            if t.dim() != 4:
                raise PerturbxError(f"layers: {self.name!r} gives shape {tuple(t.shape)}, expected [B,C,h,w]")
            return t
        if layout == "nhwc":
            if t.dim() != 4:
                raise PerturbxError(f"layers: {self.name!r} gives shape {tuple(t.shape)}, expected [B,h,w,C]")
            return t.permute(0, 3, 1, 2)
        if t.dim() != 3:
            raise PerturbxError(f"layers: {self.name!r} gives shape {tuple(t.shape)}, expected tokens [B,N,D]")
        fits = self.grid is not None and 0 <= t.shape[1] - self.grid[0] * self.grid[1] <= MAX_PREFIX
        h, w = self.grid if fits else token_grid(t.shape[1])
        return t[:, t.shape[1] - h * w :].reshape(t.shape[0], h, w, t.shape[2]).permute(0, 3, 1, 2)


def token_grid(n_tokens: int) -> tuple[int, int]:
    """The square patch grid in ``n_tokens`` after leading prefix tokens (class, distillation, registers)."""
    for prefix in range(MAX_PREFIX + 1):
        side = math.isqrt(n_tokens - prefix) if n_tokens > prefix else 0
        if side > 0 and side * side == n_tokens - prefix:
            return side, side
    raise PerturbxError(f"layers: cannot arrange {n_tokens} tokens on a square grid; give the layout explicitly")


def core(model: nn.Module) -> tuple[str, nn.Module]:
    """The network inside a perturbx ImageClassifier (with its name prefix), else the model itself."""
    net = getattr(model, "net", None)
    if isinstance(net, nn.Module) and hasattr(model, "target_layer"):
        return "net.", net
    return "", model


def is_vit(net: nn.Module) -> bool:
    """A timm-style Vision Transformer: patch embedding and a sequence of blocks."""
    return hasattr(net, "patch_embed") and isinstance(getattr(net, "blocks", None), nn.Sequential | nn.ModuleList)


def is_swin(net: nn.Module) -> bool:
    """A timm Swin Transformer (stages of blocks working on NHWC tensors)."""
    return "swin" in type(net).__name__.lower() and hasattr(net, "layers")


def vit_grid(net: nn.Module) -> tuple[int, int] | None:
    """The patch grid of a timm ViT, when it declares one."""
    grid = getattr(getattr(net, "patch_embed", None), "grid_size", None)
    return (int(grid[0]), int(grid[1])) if grid is not None else None


HEAD_NAMES = {"global_pool", "avgpool", "head", "fc", "classifier", "fc_norm", "head_drop", "pre_logits", "flatten"}
HEAD_TYPES = (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.Flatten, nn.Linear)
PASSIVE = (nn.Identity, nn.Dropout, nn.Dropout2d, nn.MaxPool2d, nn.AvgPool2d)


def _first_leaf(module: nn.Module) -> nn.Module:
    return next((m for m in module.modules() if not any(True for _ in m.children())), module)


def feature_output_name(net: nn.Module) -> str | None:
    """The module whose output is the feature extractor's last activation: among the children before the
    head (global pooling, flatten, linear, or a child named like a head), the last that is not identity,
    dropout or pooling, descending into ``nn.Sequential`` the same way (so ``features.8``'s last
    activation for a torchvision EfficientNet, ``bn2`` for a timm one, ``stages.3`` for ConvNeXt)."""
    name, module = "", net
    while True:
        kept = []
        for child_name, child in module.named_children():
            if child_name in HEAD_NAMES or isinstance(child, HEAD_TYPES) or isinstance(_first_leaf(child), HEAD_TYPES):
                break
            if not isinstance(child, PASSIVE):
                kept.append((child_name, child))
        if not kept:
            break
        child_name, module = kept[-1]
        name = f"{name}.{child_name}" if name else child_name
        if not isinstance(module, nn.Sequential):
            break
    return name or None


def default_layer_name(model: nn.Module) -> str:
    """A sensible CAM layer: ``model.target_layer`` when set; the last block's first norm for ViT and
    Swin (pytorch-grad-cam's choice); otherwise the feature extractor's last activation
    (:func:`feature_output_name`), or the block holding the last Conv2d when that finds nothing."""
    declared = getattr(model, "target_layer", None)
    if isinstance(declared, str) and declared:
        return declared
    prefix, net = core(model)
    if is_vit(net):
        return f"{prefix}blocks.{len(net.blocks) - 1}.norm1"
    if is_swin(net):
        stage = len(net.layers) - 1
        return f"{prefix}layers.{stage}.blocks.{len(net.layers[stage].blocks) - 1}.norm1"
    found = feature_output_name(net)
    if found is not None and any(isinstance(m, nn.Conv2d) for m in net.modules()):
        return prefix + found
    convs = [name for name, m in net.named_modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise PerturbxError("layers: the model has no Conv2d and no known transformer layout; give layers=")
    last = convs[-1]
    parent = last.rpartition(".")[0]
    if parent and not any(isinstance(m, nn.Linear) for m in net.get_submodule(parent).modules()):
        return prefix + parent
    return prefix + last


def _name_of(model: nn.Module, module: nn.Module) -> str:
    for name, m in model.named_modules():
        if m is module:
            return name
    raise PerturbxError(f"layers: the module {type(module).__name__} is not part of the model")


def _find(model: nn.Module, name: str) -> str:
    prefix, _ = core(model)
    for candidate in (name, prefix + name) if prefix else (name,):
        try:
            model.get_submodule(candidate)
            return candidate
        except AttributeError:
            continue
    known = [n for n, _ in model.named_modules() if n][:12]
    raise PerturbxError(f"layers: the model has no module {name!r} (names look like: {', '.join(known)}, ...)")


def resolve_layers(model: nn.Module, layers: LayersSpec, layout: Layout = "auto") -> list[Layer]:
    """Target layers from names, modules, or a list of either; ``None`` picks the family default."""
    if layers is None:
        specs: list[LayerSpec] = [default_layer_name(model)]
    elif isinstance(layers, str | nn.Module):
        specs = [layers]
    else:
        specs = list(layers)
        if not specs:
            raise PerturbxError("layers: expected at least one layer")
    _, net = core(model)
    resolved = []
    for spec in specs:
        name = _name_of(model, spec) if isinstance(spec, nn.Module) else _find(model, str(spec))
        resolved.append(Layer(name, model.get_submodule(name), layout, vit_grid(net), is_swin(net)))
    return resolved
