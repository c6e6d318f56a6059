"""The model adapter: the one place that knows the model's preprocessing, output mode and device."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
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
    float32). Inputs are cast to the model's floating-point type and outputs read from a tensor, a tuple
    (its first item) or a mapping with ``logits`` (Hugging Face style). With ``batch_size="auto"`` the
    batch size is measured once per model, input shape and machine among the sizes that give bit-identical
    scores, and cached (``tune=False`` or ``PERTURBX_TUNING=off`` skips the timing, with the same scores).
    ``channels_last=True`` runs conv models channels-last (faster on some CPUs, scores different in the last
    bits); ``"auto"`` and ``False`` keep the model's own layout. ``batch_size`` and ``progress`` (bars and
    the tuning notice) are run-time options, also set per call by ``explain(...)``. Inside :meth:`session`
    the model is in eval mode; on exit its state is restored exactly.
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
        tune: bool = True,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise PerturbxError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
        if output not in _OUTPUTS:
            raise unknown_choice("output mode", str(output), _OUTPUTS)
        if batch_size != "auto" and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1):
            raise PerturbxError(f"batch_size: expected a positive int or 'auto', got {batch_size!r}")
        if precision != "fp32" and precision not in _AUTOCAST:
            raise unknown_choice("precision", str(precision), ("fp32", *_AUTOCAST))
        if channels_last not in (True, False, "auto"):
            raise PerturbxError(f"channels_last: expected True, False or 'auto', got {channels_last!r}")
        if (mean is None) != (std is None):
            raise PerturbxError("mean and std: give both or neither")
        if mean is not None and len(mean) != len(std):
            raise PerturbxError(f"mean and std: expected the same length, got {len(mean)} and {len(std)}")
        if std is not None and any(not s > 0 for s in std):
            raise PerturbxError(f"std: every value must be positive, got {list(std)}")
        self.model = model
        self.output = output
        self.batch_size = batch_size
        self.progress = progress
        self.channels_last = channels_last
        self.precision = precision
        self.tune = tune
        self.mean = None if mean is None else torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
        self.std = None if std is None else torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
        self._tuned: dict[tuple[int, ...], tuple[int, tuple[int, ...]]] = {}
        self._calls: tuple[int, tuple[int, ...]] | None = None  # model batch size and the sizes calls pad to
        self._active_format: bool | None = None
        self._open = False
        self._required_outputs = 0
        self._hooks = 0

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
    def dtype(self) -> torch.dtype:
        """The floating-point type of the model's parameters (float32 for a model without any)."""
        return next((p.dtype for p in self.model.parameters() if p.is_floating_point()), torch.float32)

    @property
    def categories(self) -> list[str] | None:
        """Class names, when the wrapped model carries them (bundled models do)."""
        return getattr(self.model, "categories", None)

    @contextmanager
    def session(self, shape: tuple[int, int, int] | None = None) -> Iterator[ModelAdapter]:
        """Eval mode and the planned memory format for the block; the model is restored on exit."""
        if self._open:
            if shape is not None:
                self.plan(shape)
            yield self
            return
        with preserved(self.model):
            self._open = True
            self._hooks = _hook_count(self.model)
            try:
                if shape is not None:
                    self.plan(shape)
                yield self
            finally:
                self._open = False
                self._active_format = None
                self._required_outputs = 0
                self._calls = None

    def require_outputs(self, n: int) -> None:
        """Within this session, refuse a model with fewer than ``n`` outputs at its first call (before tuning
        spends any further calls): a class target ``k`` needs ``k + 1`` outputs."""
        self._required_outputs = n

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
        """Chunk size and memory format for inputs of ``shape``: ``batch_size``, else the adapter's own, else the
        device's reference batch. An ``"auto"`` adapter asked without ``batch_size`` tunes once per shape; from
        then on :meth:`forward` splits every chunk into calls of the tuned size, padded to sizes with
        bit-identical scores, so no result depends on the timing. The format is applied to the model, so this
        runs only inside :meth:`session`, which restores it."""
        if not self._open:
            raise RuntimeError("ModelAdapter.plan() runs inside adapter.session()")
        channels_last = self._channels_last()
        self._set_format(channels_last)
        if self.batch_size != "auto":
            self._calls = None
            return batch_size or self.batch_size, channels_last
        if shape not in self._tuned and batch_size is None:
            self._calls = None
            self._tuned[shape] = self._choose(shape, channels_last)
        self._calls = self._tuned.get(shape)
        return batch_size or max(tuning.candidates(self.device)), channels_last

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the model's own input normalisation to images in [0,1]."""
        if self.mean is None:
            return x
        if self.mean.shape[1] not in (1, x.shape[1]):
            raise PerturbxError(f"mean and std: {self.mean.shape[1]} values for images with {x.shape[1]} channels")
        return (x - self.mean.to(x.device)) / self.std.to(x.device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scores in the chosen output mode, as float32, differentiable (gradient explainers use this). After
        tuning, inference calls are split into the tuned size and padded to sizes with bit-identical scores."""
        if self._calls is None or not len(x) or torch.is_grad_enabled() or _hook_count(self.model) != self._hooks:
            # gradients and layer hooks (CAM methods) see exactly the caller's batch, in one call
            y = self._query(x)
        else:
            size, sizes = self._calls
            parts = []
            for chunk in x.split(size):
                n = len(chunk)
                padded = next(s for s in sizes if s >= n)
                if padded > n:  # repeat the last image: every call has a size whose scores are bit-identical
                    chunk = torch.cat([chunk, chunk[-1:].expand(padded - n, *chunk.shape[1:])])
                parts.append(self._query(chunk)[:n])
            y = torch.cat(parts)
        if y.shape[-1] < max(self._required_outputs, 2 if self.output != "logit" else 1):
            self._refuse_outputs(y.shape[-1])
        y = _OUTPUTS[self.output](y if y.dtype == torch.float64 else y.float())  # float64 kept for gradcheck
        if not torch.isfinite(y.detach()).all():
            bad = int((~torch.isfinite(y.detach())).any(dim=-1).sum())
            raise PerturbxError(
                f"model: its {self.output} scores are NaN or infinite for {bad} of {len(y)} images "
                "(check the model and its input range); refusing to explain them"
            )
        return y

    def _query(self, x: torch.Tensor) -> torch.Tensor:
        channels = x.shape[1]
        x = self.normalise(x.to(self.device)).to(self.dtype)
        if self._active_format:
            x = x.contiguous(memory_format=torch.channels_last)
        try:
            if self.precision == "fp32":
                out = self.model(x)
            else:
                with torch.autocast(x.device.type, dtype=_AUTOCAST[self.precision]):
                    out = self.model(x)
        except RuntimeError:
            self._explain_failure(channels)
            raise
        return _scores(out)

    def __call__(self, x: torch.Tensor, batch_size: int | None = None) -> torch.Tensor:
        """Scores for a batch of any size, under inference mode, in chunks of the planned batch size."""
        with self.session(), torch.inference_mode():
            size, _ = self.plan(tuple(x.shape[1:]), batch_size)
            return torch.cat([self.forward(chunk) for chunk in x.split(size)])

    def _refuse_outputs(self, k: int) -> None:
        if k < self._required_outputs:
            raise PerturbxError(
                f"target: class {self._required_outputs - 1} is out of range for a model with {k} outputs"
            )
        raise PerturbxError(
            f"model: it has a single output, whose {self.output} is the same for every image; "
            "use ModelAdapter(model, output='logit') or a model with one output per class"
        )

    def _explain_failure(self, channels: int) -> None:
        """Turn the likely cause of a model's shape error into a clear message: a channel count its first
        convolution cannot take (the model itself raised, so nothing was computed)."""
        first = next((m for m in self.model.modules() if isinstance(m, nn.Conv2d)), None)
        if first is not None and channels != first.in_channels:
            raise PerturbxError(
                f"x: the model's first convolution takes {first.in_channels} channels, got images with "
                f"{channels} (repeat a grey channel with x.expand(-1, 3, -1, -1); drop alpha with x[:, :3])"
            ) from None

    def _channels_last(self) -> bool:
        """Channels-last only when asked for: it changes scores in the last bits, so the default keeps the
        model's own layout and agrees with peers that run the same model."""
        return self.channels_last is True and any(p.dim() == 4 for p in self.model.parameters())

    def _set_format(self, channels_last: bool) -> None:
        if self._active_format == channels_last:
            return
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        with torch.inference_mode(False):  # parameters must never become inference tensors
            for p in self.model.parameters():
                if p.dim() == 4:
                    p.data = p.data.contiguous(memory_format=fmt)
        self._active_format = channels_last

    def _choose(self, shape: tuple[int, int, int], channels_last: bool) -> tuple[int, tuple[int, ...]]:
        reference = max(tuning.candidates(self.device))
        if not (self.tune and tuning.enabled()):
            return reference, (reference,)
        n_params = sum(p.numel() for p in self.model.parameters())
        fingerprint = (
            type(self.model).__qualname__,
            n_params,
            self.dtype,
            shape,
            self.device,
            channels_last,
            torch.get_num_threads(),
            torch.__version__,
        )
        key = "|".join(map(str, fingerprint))
        cached = tuning.read_cache(key)
        if cached is not None:
            return cached

        def run(batch: torch.Tensor) -> torch.Tensor:
            with torch.inference_mode():
                return self.forward(batch)

        busy = tuning.machine_busy()
        self._first_call_checked(shape)
        tuning.announce(quiet=not self.progress)
        size, sizes = tuning.search(run, shape, self.device)
        tuning.write_cache(key, size, sizes, busy)
        return size, sizes

    def _first_call_checked(self, shape: tuple[int, int, int]) -> None:
        """One forward of a single probe image: a wrong channel count or too few outputs fails here, before
        the timing spends dozens of calls."""
        with torch.inference_mode():
            self.forward(torch.full((1, *shape), 0.5, device=self.device))


def _hook_count(model: nn.Module) -> int:
    """Forward hooks and pre-hooks on the model's modules: an explainer that adds some records or rewrites
    layer outputs per call, so its calls are never split or padded."""
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def _scores(out: object) -> torch.Tensor:
    """The ``[batch, classes]`` tensor inside a model's output: itself, a tuple's first item or ``.logits``."""
    if isinstance(out, Mapping) and "logits" in out:
        out = out["logits"]
    elif not isinstance(out, torch.Tensor) and isinstance(getattr(out, "logits", None), torch.Tensor):
        out = out.logits
    elif isinstance(out, (tuple, list)) and out and isinstance(out[0], torch.Tensor):
        out = out[0]
    if not isinstance(out, torch.Tensor):
        raise PerturbxError(
            f"model: expected a tensor [batch, classes] (or a tuple or mapping holding 'logits'), "
            f"got {type(out).__name__}"
        )
    if out.dim() != 2:
        raise PerturbxError(f"model: expected outputs of shape [batch, classes], got {tuple(out.shape)}")
    if not out.is_floating_point():
        raise PerturbxError(f"model: expected floating-point outputs, got {out.dtype}")
    return out


def as_adapter(model: nn.Module | ModelAdapter, output: OutputMode = "probability") -> ModelAdapter:
    """Accept a bare module (treated as taking [0,1] images, scored in ``output`` mode) or an adapter."""
    return model if isinstance(model, ModelAdapter) else ModelAdapter(model, output=output)
