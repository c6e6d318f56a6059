"""The one interface of every method: ``explain(model, x, target) -> Explanation``."""

from __future__ import annotations

from typing import ClassVar, get_args

import torch
from pydantic import PrivateAttr
from torch import nn

from perturbx.errors import unknown_choice
from perturbx.explanation import Explanation
from perturbx.images import check_images
from perturbx.models.adapter import ModelAdapter, OutputMode, as_adapter
from perturbx.registry import Component
from perturbx.targets import TargetSpec, check_target, required_outputs


class Explainer(Component):
    """Base of perturbation pipelines and of gradient/CAM wrappers.

    :meth:`explain` validates the images and target, wraps the model in an adapter, and runs
    :meth:`attribute` inside the adapter's session, which restores the model whatever happens.
    """

    kind: ClassVar[str] = "explainer"
    _output: OutputMode = PrivateAttr("probability")

    @property
    def output_mode(self) -> OutputMode:
        """The scores a bare model is explained in (a YAML config's ``output:``); an adapter keeps its own."""
        return self._output

    @output_mode.setter
    def output_mode(self, mode: OutputMode) -> None:
        if mode not in get_args(OutputMode):
            raise unknown_choice("output mode", str(mode), get_args(OutputMode))
        self._output = mode

    def explain(self, model: nn.Module | ModelAdapter, x: torch.Tensor, target: TargetSpec = None) -> Explanation:
        """Explain ``model``'s outputs on images ``x [B,C,H,W]`` in [0,1] for ``target`` (default: predicted class)."""
        x = check_images(x)
        check_target(target, x.shape[0])
        adapter = as_adapter(model, output=self._output)
        self.check(adapter, x)
        with adapter.session():
            adapter.require_outputs(required_outputs(target))
            return self.attribute(adapter, x, target)

    def check(self, adapter: ModelAdapter, x: torch.Tensor) -> None:
        """Method-specific validation, before any model query."""

    def attribute(self, adapter: ModelAdapter, x: torch.Tensor, target: TargetSpec) -> Explanation:
        """The method itself: maps for validated images, inside the adapter's session."""
        raise NotImplementedError
