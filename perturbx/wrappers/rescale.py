"""DeepLIFT's rescale rule as hooks: inside :func:`rescaled`, a forward pass over ``cat([x, x_ref])``
replaces the local derivative of every element-wise activation by Δout/Δin between the two halves
(and routes max-pooling differences through the arg-max of each half), so that ordinary autograd
returns DeepLIFT multipliers. The backward passes are written in differentiable torch operations,
so ``create_graph=True`` differentiates the multipliers themselves."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from perturbx.wrappers.hooks import hooked

EPS = 1e-10  # |Δin| below this falls back to the ordinary derivative (Captum's default)
ELEMENTWISE = (
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.PReLU,
    nn.ELU,
    nn.SELU,
    nn.CELU,
    nn.GELU,
    nn.SiLU,
    nn.Mish,
    nn.Hardswish,
    nn.Hardsigmoid,
    nn.Hardtanh,
    nn.Sigmoid,
    nn.Tanh,
    nn.Softplus,
    nn.LogSigmoid,
)


def _halves(t: torch.Tensor) -> torch.Tensor:
    """The difference between the input half and the reference half, repeated for both halves."""
    a, b = t.chunk(2)
    return torch.cat([a - b, a - b])


class _Rescale(torch.autograd.Function):
    """Identity on ``out``; backward: ``grad · Δout/Δin`` to ``inp`` where ``|Δin| ≥ eps``, elsewhere the
    gradient goes to ``out`` and from there through the module's own derivative."""

    @staticmethod
    def forward(ctx: Any, inp: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(inp, out)
        return out.clone()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        inp, out = ctx.saved_tensors
        x_in, r_in = inp.chunk(2)
        x_out, r_out = out.chunk(2)
        d_in = x_in - r_in
        small = d_in.abs() < EPS
        pairs = grad.unflatten(0, (2, -1))  # both halves get the same multiplier, as in Captum
        if not small.any():
            return (pairs * ((x_out - r_out) / d_in)).flatten(0, 1), None
        ratio = torch.where(small, torch.zeros_like(d_in), (x_out - r_out) / torch.where(small, 1.0, d_in))
        fallback = torch.cat([small, small]).to(grad.dtype)
        return (pairs * ratio).flatten(0, 1), grad * fallback


class _MaxPoolRescale(torch.autograd.Function):
    """Max-pooling: the output difference ``y − y_ref`` is split into ``max(y, y_ref) − y_ref``, routed to
    the input half's arg-max, and ``y − max(y, y_ref)``, routed to the reference's arg-max; the sum per
    input element over Δin is its multiplier (Captum's rule), the plain gradient where ``|Δin| < eps``."""

    @staticmethod
    def forward(ctx: Any, inp: torch.Tensor, out: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(inp, out, indices)
        return out.clone()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        inp, out, indices = ctx.saved_tensors
        y, y_ref = out.chunk(2)
        top = torch.maximum(y, y_ref)
        routed = _unpool(grad * torch.cat([top - y_ref, y - top]), indices, inp)
        ours, theirs = routed.chunk(2)
        contribution = torch.cat([ours + theirs, ours + theirs])
        d_in = _halves(inp)
        small = d_in.abs() < EPS
        plain = _unpool(grad, indices, inp)
        return torch.where(small, plain, contribution / torch.where(small, torch.ones_like(d_in), d_in)), None, None


def _unpool(values: torch.Tensor, indices: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Scatter-add pooled ``values`` back to the input positions ``indices`` (the gradient of max-pooling)."""
    flat = torch.zeros(*like.shape[:2], like[0, 0].numel(), dtype=values.dtype, device=values.device)
    return flat.scatter_add(2, indices.flatten(2), values.flatten(2)).view_as(like)


def _rescale_hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> torch.Tensor:
    return _Rescale.apply(inputs[0], output)


def _maxpool_hook(module: nn.MaxPool2d, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> torch.Tensor:
    inp = inputs[0]
    _, indices = F.max_pool2d(
        inp.detach(),
        module.kernel_size,
        module.stride,
        module.padding,
        module.dilation,
        module.ceil_mode,
        return_indices=True,
    )
    return _MaxPoolRescale.apply(inp, output, indices)


@contextmanager
def rescaled(model: nn.Module, maxpool: bool = True) -> Iterator[list[str]]:
    """Within the block, forward passes of ``cat([x, x_ref])`` give DeepLIFT (rescale) gradients.

    Rescaled: element-wise activation *modules* (:data:`ELEMENTWISE`) and, with ``maxpool``,
    ``nn.MaxPool2d`` (else its plain gradient). Functional calls (``F.relu``, ``x.sigmoid()``),
    softmax and attention are differentiated as they are, so summation to delta holds only when
    every nonlinearity is such a module. In-place activations run out of place inside the block (so
    their input survives for the rule). Yields the rescaled modules' names.
    """
    with ExitStack() as stack:
        names = []
        for name, module in model.named_modules():
            if isinstance(module, ELEMENTWISE):
                hook = _rescale_hook
            elif maxpool and isinstance(module, nn.MaxPool2d):
                hook = _maxpool_hook
            else:
                continue
            names.append(name)
            if getattr(module, "inplace", False):
                module.inplace = False
                stack.callback(setattr, module, "inplace", True)
            stack.enter_context(hooked(module, hook))
        yield names
