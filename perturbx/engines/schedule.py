"""The order in which the Ray engine hands out units: the largest expected cost first, so that the run ends
on small units and no worker waits long for the last one. A unit's cost is its image count times the
seconds per image measured so far for its kind (its explainer); a kind not yet sent goes first, so every
kind is measured early. Where units are short, the next units of the same kind are joined to the one sent
(up to a size), so each trip carries a second or so of work; never near the end, where short units keep
the workers' finishing times even."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

U = TypeVar("U")


class Schedule(Generic[U]):
    """Units still to send, one queue per kind (largest first); ``pop`` the next, ``learn`` from each finished."""

    def __init__(self, units: Sequence[U], kind: Callable[[U], str], size: Callable[[U], int],
                 join: Callable[[U, U], U] | None = None, most: int = 32) -> None:
        self.kind = kind
        self.size = size
        self.join = join
        self.most = most  # images a joined unit may hold (a worker holds one unit's images at a time)
        by_kind: dict[str, list[U]] = {}
        for unit in units:
            by_kind.setdefault(kind(unit), []).append(unit)
        self.queues = {k: deque(sorted(q, key=size, reverse=True)) for k, q in by_kind.items()}  # stable sort
        self.sent: set[str] = set()
        self.seconds: dict[str, float] = {}
        self.images: dict[str, int] = {}

    def __len__(self) -> int:
        return sum(len(q) for q in self.queues.values())

    def pop(self, at_least: float = 0.0, keep: int = 0) -> U:
        """The first unit of a kind not yet sent, else the queue head of largest expected cost; joined to the
        next units of its kind while its expected seconds stay under ``at_least`` and over ``keep`` units remain."""
        rates = {k: self.seconds[k] / self.images[k] for k in self.seconds if self.images[k]}
        default = max(rates.values(), default=1.0)  # sent but not yet measured: the costliest rate known

        def cost(kind: str) -> tuple[bool, float]:
            return kind not in self.sent, self.size(self.queues[kind][0]) * rates.get(kind, default)

        kind = max((k for k, q in self.queues.items() if q), key=cost)  # max keeps the first of equals
        self.sent.add(kind)
        queue = self.queues[kind]
        unit = queue.popleft()
        rate = rates.get(kind)
        while (self.join and rate and queue and self.size(unit) * rate < at_least and len(self) > keep
               and self.size(unit) + self.size(queue[0]) <= self.most):
            unit = self.join(unit, queue.popleft())
        return unit

    def learn(self, unit: U, seconds: float) -> None:
        """Record that ``unit`` took ``seconds``."""
        kind = self.kind(unit)
        self.seconds[kind] = self.seconds.get(kind, 0.0) + seconds
        self.images[kind] = self.images.get(kind, 0) + self.size(unit)
