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


def graph_input(inputs: torch.Tensor, create_graph: bool) -> torch.Tensor:
    """``inputs`` as the tensor to differentiate against: kept in its graph for ``create_graph`` (so maps
    carry gradients back to the caller's images), else a fresh leaf."""
    if create_graph and inputs.requires_grad:
        return inputs
    return inputs.detach().requires_grad_(True)


def input_gradients(
    adapter: ModelAdapter, inputs: torch.Tensor, fns: Sequence[ScoreFn], create_graph: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradients of each row's score w.r.t. its input row, and the scores; parameters' ``.grad`` untouched.
    With ``create_graph`` the gradients stay differentiable (w.r.t. the inputs and the parameters)."""
    with torch.enable_grad():
        inputs = graph_input(inputs.to(adapter.device), create_graph)
        scores = row_scores(adapter.forward(inputs), fns)
        (grads,) = torch.autograd.grad(scores.sum(), inputs, create_graph=create_graph)
    return grads, scores.detach()
