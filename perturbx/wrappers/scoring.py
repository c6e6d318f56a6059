"""Per-row target scores and their gradients, shared by every gradient and CAM method."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from perturbx.models.adapter import ModelAdapter
from perturbx.targets import ClassTarget, ScoreFn


def row_scores(outputs: torch.Tensor, fns: Sequence[ScoreFn]) -> torch.Tensor:
    """``fns[i]`` applied to row ``i`` of ``outputs [n,K]``; rows sharing a function are scored together."""
    if all(isinstance(fn, ClassTarget) for fn in fns):
        index = torch.tensor([fn.index for fn in fns], device=outputs.device)
        return outputs.gather(1, index[:, None])[:, 0]
    groups: dict[int, list[int]] = {}
    by_id: dict[int, ScoreFn] = {}
    for row, fn in enumerate(fns):
        groups.setdefault(id(fn), []).append(row)
        by_id[id(fn)] = fn
    scores = outputs.new_empty(len(fns))
    for key, rows in groups.items():
        index = torch.tensor(rows, device=outputs.device)
        scores = scores.index_put((index,), by_id[key](outputs[index]).reshape(-1).to(outputs.dtype))
    return scores


def input_gradients(
    adapter: ModelAdapter, inputs: torch.Tensor, fns: Sequence[ScoreFn]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradients of each row's score w.r.t. its input row, and the scores; parameters' ``.grad`` untouched."""
    inputs = inputs.detach().to(adapter.device).requires_grad_(True)
    with torch.enable_grad():
        scores = row_scores(adapter.forward(inputs), fns)
        (grads,) = torch.autograd.grad(scores.sum(), inputs)
    return grads, scores.detach()
