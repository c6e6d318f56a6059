"""Forward hooks as context managers: registered on entry, removed on exit whatever happens."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

import torch
from torch import nn


@contextmanager
def hooked(module: nn.Module, hook: Callable[[nn.Module, Any, Any], Any]) -> Iterator[None]:
    """One forward hook for the duration of the block."""
    handle = module.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


@contextmanager
def recording(modules: Sequence[nn.Module]) -> Iterator[list[list[torch.Tensor]]]:
    """Record the outputs of ``modules`` (every call, in order) without changing them."""
    records: list[list[torch.Tensor]] = [[] for _ in modules]
    with ExitStack() as stack:
        for record, module in zip(records, modules):
            stack.enter_context(hooked(module, lambda m, i, out, record=record: record.append(out)))
        yield records


@contextmanager
def replacing(module: nn.Module, fn: Callable[[torch.Tensor], torch.Tensor]) -> Iterator[None]:
    """Replace the output of ``module`` by ``fn(output)`` for the duration of the block."""
    with hooked(module, lambda m, i, out: fn(out)):
        yield
