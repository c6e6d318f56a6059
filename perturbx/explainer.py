"""The one interface of every method: ``explain(model, x, target) -> Explanation``."""

from __future__ import annotations

from typing import ClassVar, get_args

import torch
from pydantic import PrivateAttr
from torch import nn

from perturbx.errors import PerturbxError, unknown_choice
from perturbx.explanation import Explanation
from perturbx.images import check_images
from perturbx.models.adapter import ModelAdapter, OutputMode, as_adapter
from perturbx.registry import Component
from perturbx.targets import TargetSpec, check_target, required_outputs


class Explainer(Component):
    """Base of perturbation pipelines and of gradient/CAM wrappers.

    :meth:`explain` validates the images and target, wraps the model in an adapter, and runs
    :meth:`attribute` inside the adapter's session, which restores the model whatever happens.
    Run-time options (``batch_size``, ``progress``) belong to the call, not to the method's spec.
    """

    kind: ClassVar[str] = "explainer"
    class_targets_only: ClassVar[str] = ""  # why, for methods that need class indices rather than callables
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

    @property
    def method(self) -> str:
        """The name every explanation of this explainer carries in ``Explanation.method``."""
        return self.name

    def explain(
        self,
        model: nn.Module | ModelAdapter,
        x: torch.Tensor,
        target: TargetSpec = None,
        *,
        batch_size: int | None = None,
        progress: bool | None = None,
    ) -> Explanation:
        """Explain ``model``'s outputs on images ``x [B,C,H,W]`` in [0,1] for ``target`` (default: predicted
        class). ``batch_size`` (images per model call) and ``progress`` override the adapter's for this call."""
        x = check_images(x)
        check_target(target, x.shape[0])
        if self.class_targets_only and (callable(target) or (isinstance(target, list | tuple)
                                                             and any(callable(t) for t in target))):
            raise PerturbxError(f"target: {self.name} needs class indices ({self.class_targets_only})")
        adapter = as_adapter(model, output=self._output)
        with adapter.options(batch_size=batch_size, progress=progress):
            self.check(adapter, x)
            with adapter.session():
                adapter.require_outputs(required_outputs(target))
                explanation = self.attribute(adapter, x, target)
        explanation.method = self.method
        explanation.meta = {"explainer": self.spec(), **explanation.meta}
        return explanation

    def check(self, adapter: ModelAdapter, x: torch.Tensor) -> None:
        """Method-specific validation, before any model query."""

    def attribute(self, adapter: ModelAdapter, x: torch.Tensor, target: TargetSpec) -> Explanation:
        """The method itself: maps for validated images, inside the adapter's session."""
        raise NotImplementedError
