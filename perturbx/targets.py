"""One target interface for every method: an int, one int per image, or a callable on the output."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from perturbx.errors import PerturbxError

ScoreFn = Callable[[torch.Tensor], torch.Tensor]
TargetSpec = int | Sequence[int] | torch.Tensor | ScoreFn | Sequence[ScoreFn] | None


@dataclass(frozen=True)
class ClassTarget:
    """Select one class's column of a model output ``[n, K]``."""

    index: int

    def __call__(self, output: torch.Tensor) -> torch.Tensor:
        return output[:, self.index]


@dataclass
class Targets:
    """Per-image score functions, and the class indices when targets are classes."""

    fns: list[ScoreFn]
    classes: torch.Tensor | None


def check_target(target: TargetSpec, batch: int) -> None:
    """Reject malformed targets before any model query."""
    if target is None or callable(target):
        return
    if isinstance(target, bool):
        raise PerturbxError(f"target: expected a class index, got a bool ({target!r})")
    if isinstance(target, int):
        if target < 0:
            raise PerturbxError(f"target: class index must be >= 0, got {target}")
        return
    if isinstance(target, torch.Tensor):
        if target.is_floating_point() or target.is_complex():
            raise PerturbxError(f"target: expected an integer tensor, got dtype {target.dtype}")
        if target.dim() > 1 or (target.dim() == 1 and target.numel() != batch):
            raise PerturbxError(
                f"target: expected one class per image ({batch}), got a tensor of shape {tuple(target.shape)}"
            )
        if (target < 0).any():
            raise PerturbxError("target: class indices must be >= 0")
        return
    if isinstance(target, Sequence) and not isinstance(target, str):
        if len(target) != batch:
            raise PerturbxError(f"target: expected one entry per image ({batch}), got {len(target)}")
        if all(callable(t) for t in target):
            return
        if all(isinstance(t, int) and not isinstance(t, bool) for t in target):
            check_target(torch.tensor(list(target)), batch)
            return
        raise PerturbxError("target: a list must hold only class indices or only callables")
    raise PerturbxError(
        f"target: expected None, an int, a tensor or list of ints, or a callable; got {type(target).__name__}"
    )


def required_outputs(target: TargetSpec) -> int:
    """The number of model outputs a class target needs (the largest index + 1; 0 for None or callables)."""
    if isinstance(target, bool) or target is None or callable(target):
        return 0
    if isinstance(target, int):
        return target + 1
    if isinstance(target, torch.Tensor):
        return int(target.max()) + 1 if target.numel() else 0
    ints = [t for t in target if isinstance(t, int) and not isinstance(t, bool)]
    return max(ints) + 1 if ints else 0


@dataclass(frozen=True)
class CheckedScore:
    """A caller's target callable, held to its contract: one finite score per row of the output."""

    fn: ScoreFn

    def __call__(self, output: torch.Tensor) -> torch.Tensor:
        scores = self.fn(output)
        if not isinstance(scores, torch.Tensor) or scores.shape != output.shape[:1]:
            got = tuple(scores.shape) if isinstance(scores, torch.Tensor) else type(scores).__name__
            raise PerturbxError(f"target: the callable must return one score per image [{len(output)}], got {got}")
        if not torch.isfinite(scores.detach()).all():
            raise PerturbxError("target: the callable returned NaN or infinite scores")
        return scores


def _checked(fn: ScoreFn) -> ScoreFn:
    return fn if isinstance(fn, (CheckedScore, ClassTarget)) else CheckedScore(fn)


def class_targets(target: TargetSpec, batch: int) -> Targets | None:
    """Targets for explicit class indices without any model call (``None`` for the predicted class or
    callables, which need the outputs). The adapter checks the class range at its first call."""
    if target is None or callable(target) or isinstance(target, bool):
        return None
    if isinstance(target, int):
        classes = torch.full((batch,), target, dtype=torch.long)
    elif isinstance(target, torch.Tensor):
        classes = target.reshape(-1).expand(batch).long().cpu()
    elif all(isinstance(t, int) and not isinstance(t, bool) for t in target):
        classes = torch.tensor(list(target), dtype=torch.long)
    else:
        return None
    return Targets([ClassTarget(int(c)) for c in classes], classes)


def resolve_targets(target: TargetSpec, outputs: torch.Tensor) -> Targets:
    """Turn any accepted target into per-image score functions, given the model outputs on ``x``."""
    batch, n_classes = outputs.shape[0], outputs.shape[-1]
    check_target(target, batch)
    if not torch.isfinite(outputs).all():
        raise PerturbxError("model: its outputs on x are NaN or infinite; refusing to explain them")
    if callable(target):
        return Targets([_checked(target)] * batch, None)
    targets = class_targets(target, batch)
    if targets is None and target is not None:  # a list of callables (check_target allows no mix)
        return Targets([_checked(t) for t in target], None)
    if targets is None:
        classes = outputs.argmax(dim=-1).cpu()
        targets = Targets([ClassTarget(int(c)) for c in classes], classes)
    if int(targets.classes.max()) >= n_classes:
        raise PerturbxError(
            f"target: class {int(targets.classes.max())} is out of range for a model with {n_classes} outputs"
        )
    return targets
