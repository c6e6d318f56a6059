"""Leave the caller's model exactly as it was found, even when an explanation fails half way."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

_HOOK_DICTS = (
    "_forward_hooks",
    "_forward_pre_hooks",
    "_backward_hooks",
    "_backward_pre_hooks",
    "_state_dict_hooks",
    "_load_state_dict_pre_hooks",
)


@contextmanager
def preserved(model: nn.Module, eval_mode: bool = True) -> Iterator[nn.Module]:
    """Within the block the model may be put in eval mode and given hooks; on exit, train/eval flags,
    ``requires_grad`` flags, parameter gradients, parameter memory formats (contiguous or
    channels-last) and hook dictionaries are restored."""
    modes = {m: m.training for m in model.modules()}
    grads = {p: p.requires_grad for p in model.parameters()}
    strides = {p: p.data.stride() for p in model.parameters()}
    hooks = {m: {d: dict(getattr(m, d)) for d in _HOOK_DICTS if hasattr(m, d)} for m in model.modules()}
    saved_grads = {p: p.grad for p in grads}
    if eval_mode:
        model.eval()
    try:
        yield model
    finally:
        for m, training in modes.items():
            m.training = training
        for p, flag in grads.items():
            p.requires_grad_(flag)
            p.grad = saved_grads[p]
        for p, stride in strides.items():
            if p.data.stride() != stride:
                p.data = _relayout(p.data, stride)
        for m, dicts in hooks.items():
            for d, saved in dicts.items():
                current = getattr(m, d)
                for key in [k for k in current if k not in saved]:
                    del current[key]


def _relayout(t: torch.Tensor, stride: tuple[int, ...]) -> torch.Tensor:
    """``t`` with the given strides (a channels-last or contiguous layout, or any other the caller had)."""
    for fmt in (torch.contiguous_format, torch.channels_last):
        if t.dim() == 4 or fmt is torch.contiguous_format:
            candidate = t.contiguous(memory_format=fmt)
            if candidate.stride() == stride:
                return candidate
    return torch.empty_strided(t.shape, stride, dtype=t.dtype, device=t.device).copy_(t)


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter or buffer (CPU for a parameter-free model)."""
    for t in model.parameters():
        return t.device
    for t in model.buffers():
        return t.device
    return torch.device("cpu")
