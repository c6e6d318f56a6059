"""Any function that returns a label map: a scikit-image segmenter, a SAM wrapper, a fixed mask."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, Literal

import torch
from pydantic import Field, field_serializer, field_validator

from perturbx.registry import register
from perturbx.segmenters.labelmap import LabelSegmenter, hwc


@register("callable", paper="PAMI (any segmentation callable); Pihlgren & Främling 2024 (any scikit-image segmenter)")
class CallableSegmenter(LabelSegmenter):
    """``function(image, **kwargs)`` returns an integer label map ``[H,W]`` (any values; relabelled to
    0..M-1). ``function`` is a callable or an import path such as ``"skimage.segmentation:slic"``; the
    image is passed as a ``[H,W,C]`` float numpy array (``input='numpy'``) or a ``[C,H,W]`` tensor."""

    function: Callable[..., Any] | str = Field(description="callable or 'module:name' import path")
    kwargs: dict[str, Any] = Field(default_factory=dict, description="extra keyword arguments for the function")
    input: Literal["numpy", "tensor"] = Field("numpy", description="[H,W,C] numpy array or [C,H,W] tensor")

    @field_validator("function")
    @classmethod
    def _importable(cls, value: Callable[..., Any] | str) -> Callable[..., Any] | str:
        resolve(value)
        return value

    @field_serializer("function")
    def _path(self, value: Callable[..., Any] | str) -> str:
        return value if isinstance(value, str) else f"{value.__module__}:{value.__qualname__}"

    def labels(self, image: torch.Tensor) -> torch.Tensor:
        arg = hwc(image) if self.input == "numpy" else image
        return resolve(self.function)(arg, **self.kwargs)


def resolve(function: Callable[..., Any] | str) -> Callable[..., Any]:
    """The callable itself, or the one an import path ``'package.module:name'`` (or ``.name``) names."""
    if callable(function):
        return function
    module, _, attr = function.rpartition(":") if ":" in function else function.rpartition(".")
    try:
        found = getattr(importlib.import_module(module), attr) if module else None
    except (ImportError, AttributeError):
        found = None
    if not callable(found):
        raise ValueError(f"cannot import a callable from {function!r}; expected 'package.module:name'")
    return found
