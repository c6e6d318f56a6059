"""The model adapter: the one place that knows the model's preprocessing, output mode and device."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Annotated, Literal

import torch
from pydantic import Field
from torch import nn

from perturbx.errors import PerturbxError, unknown_choice
from perturbx.models import tuning
from perturbx.models.state import model_device, preserved

OutputMode = Literal["probability", "logit", "log_probability"]
Precision = Literal["fp32", "bf16", "fp16"]
_AUTOCAST = {"bf16": torch.bfloat16, "fp16": torch.float16}
BatchSize = Annotated[int, Field(ge=1)] | Literal["auto"]  # a stage's images per model call, or the adapter's plan
_OUTPUTS = {
    "probability": lambda y: y.softmax(dim=-1),
    "logit": lambda y: y,
    "log_probability": lambda y: y.log_softmax(dim=-1),
}


class ModelAdapter:
    """Wrap any classifier so that explainers can feed it un-normalised images in [0,1].

    ``mean``/``std`` normalise inputs inside the adapter; ``output`` picks probability, logit or
    log-probability scores; ``precision`` bf16/fp16 runs the model under autocast (scores come back as
    float32). With ``batch_size="auto"`` the batch size and (unless ``channels_last``
    is fixed) the memory format are measured once per model, input shape and machine, and cached.
    ``progress`` shows progress bars for long work. Inside :meth:`session` the model is in eval mode;
    on exit its state is restored exactly.
    """

    def __init__(
        self,
        model: nn.Module,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        output: OutputMode = "probability",
        batch_size: int | Literal["auto"] = "auto",
        channels_last: bool | Literal["auto"] = "auto",
        progress: bool = True,
        precision: Precision = "fp32",
    ) -> None:
        if not isinstance(model, nn.Module):
            raise PerturbxError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
        if output not in _OUTPUTS:
            raise unknown_choice("output mode", str(output), _OUTPUTS)
        if batch_size != "auto" and (not isinstance(batch_size, int) or batch_size < 1):
            raise PerturbxError(f"batch_size: expected a positive int or 'auto', got {batch_size!r}")
        if precision != "fp32" and precision not in _AUTOCAST:
            raise unknown_choice("precision", str(precision), ("fp32", *_AUTOCAST))
        if (mean is None) != (std is None):
            raise PerturbxError("mean and std: give both or neither")
        if std is not None and any(s <= 0 for s in std):
            raise PerturbxError(f"std: every value must be positive, got {list(std)}")
        self.model = model
        self.output = output
        self.batch_size = batch_size
        self.progress = progress
        self.channels_last = channels_last
        self.precision = precision
        self.mean = None if mean is None else torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
        self.std = None if std is None else torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
        self._tuned: dict[tuple[int, ...], tuple[int, bool]] = {}
        self._active_format: bool | None = None
        self._open = False

    def __repr__(self) -> str:
        return (
            f"ModelAdapter({type(self.model).__name__}, output={self.output!r}, "
            f"batch_size={self.batch_size!r}, channels_last={self.channels_last!r}, progress={self.progress!r})"
        )

    @property
    def device(self) -> torch.device:
        """The device of the model's parameters (CPU for a model without any)."""
        return model_device(self.model)

    @property
    def categories(self) -> list[str] | None:
        """Class names, when the wrapped model carries them (bundled models do)."""
        return getattr(self.model, "categories", None)

    @contextmanager
    def session(self, shape: tuple[int, int, int] | None = None) -> Iterator[ModelAdapter]:
        """Eval mode and the tuned memory format for the block; the model is restored on exit."""
        if self._open:
            if shape is not None:
                self.plan(shape)
            yield self
            return
        with preserved(self.model):
            self._open = True
            try:
                if shape is not None:
                    self.plan(shape)
                yield self
            finally:
                self._open = False
                self._active_format = None

    @contextmanager
    def options(self, batch_size: int | None = None, progress: bool | None = None) -> Iterator[ModelAdapter]:
        """Run-time options for the block: a fixed ``batch_size`` and/or ``progress``; ``None`` keeps the adapter's."""
        if batch_size is not None and (type(batch_size) is not int or batch_size < 1):
            raise PerturbxError(f"batch_size: expected a positive int, got {batch_size!r}")
        saved = self.batch_size, self.progress
        self.batch_size = saved[0] if batch_size is None else batch_size
        self.progress = saved[1] if progress is None else bool(progress)
        try:
            yield self
        finally:
            self.batch_size, self.progress = saved

    def plan(self, shape: tuple[int, int, int], batch_size: int | None = None) -> tuple[int, bool]:
        """Batch size and memory format for inputs of ``shape``: ``batch_size`` (or the adapter's own)
        when given, else tuned. The format is applied to the model, so this runs only inside
        :meth:`session`, which restores it."""
        if not self._open:
            raise RuntimeError("ModelAdapter.plan() runs inside adapter.session()")
        batch_size = batch_size or (self.batch_size if self.batch_size != "auto" else None)
        key = (*shape, batch_size or 0)
        if key not in self._tuned:
            self._tuned[key] = self._choose(shape, batch_size)
        size, channels_last = self._tuned[key]
        self._set_format(channels_last)
        return size, channels_last

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the model's own input normalisation to images in [0,1]."""
        if self.mean is None:
            return x
        return (x - self.mean.to(x.device)) / self.std.to(x.device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scores in the chosen output mode, differentiable (gradient explainers use this)."""
        x = self.normalise(x.to(self.device))
        if self._active_format:
            x = x.contiguous(memory_format=torch.channels_last)
        if self.precision == "fp32":
            y = self.model(x)
        else:
            with torch.autocast(x.device.type, dtype=_AUTOCAST[self.precision]):
                y = self.model(x)
        if y.dim() != 2:
            raise PerturbxError(f"model: expected outputs of shape [batch, classes], got {tuple(y.shape)}")
        return _OUTPUTS[self.output](y.float())

    def __call__(self, x: torch.Tensor, batch_size: int | None = None) -> torch.Tensor:
        """Scores for a batch of any size, under inference mode, in chunks of the planned batch size."""
        with self.session(), torch.inference_mode():
            size, _ = self.plan(tuple(x.shape[1:]), batch_size)
            return torch.cat([self.forward(chunk) for chunk in x.split(size)])

    def _set_format(self, channels_last: bool) -> None:
        if self._active_format == channels_last:
            return
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        with torch.inference_mode(False):  # parameters must never become inference tensors
            for p in self.model.parameters():
                if p.dim() == 4:
                    p.data = p.data.contiguous(memory_format=fmt)
        self._active_format = channels_last

    def _choose(self, shape: tuple[int, int, int], batch_size: int | None) -> tuple[int, bool]:
        has_conv = any(p.dim() == 4 for p in self.model.parameters())
        fixed_format = None if self.channels_last == "auto" else bool(self.channels_last)
        if batch_size:
            return batch_size, has_conv and bool(fixed_format)
        formats = (True, False) if has_conv else (False,)
        if fixed_format is not None:
            formats = (fixed_format and has_conv,)
        n_params = sum(p.numel() for p in self.model.parameters())
        key = "|".join(
            map(
                str,
                (
                    type(self.model).__qualname__,
                    n_params,
                    shape,
                    self.device,
                    formats,
                    torch.get_num_threads(),
                    torch.__version__,
                ),
            )
        )
        cached = tuning.read_cache(key)
        if cached is not None:
            return cached

        def run(batch: torch.Tensor, channels_last: bool) -> object:
            self._set_format(channels_last)
            with torch.inference_mode():
                return self.forward(batch)

        choice = tuning.search(run, shape, self.device, formats)
        tuning.write_cache(key, *choice)
        return choice


def as_adapter(model: nn.Module | ModelAdapter) -> ModelAdapter:
    """Accept a bare module (treated as taking [0,1] images) or an adapter."""
    return model if isinstance(model, ModelAdapter) else ModelAdapter(model)
