"""Attention maps of timm Vision Transformers: capture (and optionally scale) each block's attention
probabilities, and roll them out to a patch-grid relevance map."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

import torch
from torch import nn

from perturbx.errors import PerturbxError
from perturbx.wrappers.hooks import hooked
from perturbx.wrappers.layers import core, is_vit, token_grid, vit_grid


def attention_modules(model: nn.Module) -> list[nn.Module]:
    """The attention module of every block of a timm ViT (they must apply ``attn_drop`` to the weights)."""
    _, net = core(model)
    if not is_vit(net):
        raise PerturbxError("model: attention methods need a timm-style Vision Transformer (patch_embed + blocks)")
    modules = [getattr(block, "attn", None) for block in net.blocks]
    if any(m is None or not isinstance(getattr(m, "attn_drop", None), nn.Module) for m in modules):
        raise PerturbxError("model: every ViT block needs an .attn module with an .attn_drop layer")
    return modules


@contextmanager
def attention_probabilities(
    model: nn.Module, transform: Callable[[torch.Tensor], torch.Tensor] | None = None
) -> Iterator[list[torch.Tensor]]:
    """Record each block's attention probabilities ``[n,heads,N,N]`` (after ``transform``, which may
    scale them) with the fused kernel switched off; flags and hooks are restored on exit."""
    modules = attention_modules(model)
    records: list[torch.Tensor] = []

    def hook(module: nn.Module, inputs: object, out: torch.Tensor) -> torch.Tensor:
        out = transform(out) if transform is not None else out
        records.append(out)
        return out

    fused = [getattr(m, "fused_attn", None) for m in modules]
    with ExitStack() as stack:
        try:
            for m in modules:
                if hasattr(m, "fused_attn"):
                    m.fused_attn = False
                stack.enter_context(hooked(m.attn_drop, hook))
            yield records
        finally:
            for m, flag in zip(modules, fused):
                if flag is not None:
                    m.fused_attn = flag


def rollout(per_block: list[torch.Tensor], prefix: int | None = None, grid: tuple[int, int] | None = None,
            fusion: str = "mean", discard_ratio: float = 0.0) -> torch.Tensor:
    """Abnar & Zuidema's rollout of ``[B,heads,N,N]`` matrices: fuse heads, optionally zero the
    lowest ``discard_ratio`` entries, add the identity, row-normalise, multiply over blocks; return
    the class-token row over the patch tokens as ``[B,h,w]``."""
    joint = None
    for a in per_block:
        a = {"mean": a.mean(dim=1), "max": a.amax(dim=1), "min": a.amin(dim=1)}[fusion]
        if discard_ratio > 0:  # per image; the class token's self-attention entry is never discarded
            flat = a.flatten(1)
            k = int(flat.shape[1] * discard_ratio)
            if k:
                ranked = flat.clone()
                ranked[:, 0] = float("inf")
                low = ranked.topk(k, dim=1, largest=False).indices
                a = flat.scatter(1, low, 0.0).view_as(a)
        a = a + torch.eye(a.shape[-1], device=a.device, dtype=a.dtype)
        a = a / a.sum(dim=-1, keepdim=True)
        joint = a if joint is None else a @ joint
    n = joint.shape[-1]
    h, w = grid if grid is not None and (prefix is None or prefix + grid[0] * grid[1] == n) else token_grid(n)
    prefix = n - h * w
    return joint[:, 0, prefix:].reshape(joint.shape[0], h, w)


def patch_grid(model: nn.Module) -> tuple[int, int] | None:
    """The declared patch grid of a (wrapped) timm ViT."""
    return vit_grid(core(model)[1])
