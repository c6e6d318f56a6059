"""Where a Ray run's time goes: each actor's start (process, imports, build) and each unit's trip (sent,
started, finished, received, stored), so the engine's own cost can be told apart from the work.

Times are ``time.time()`` of the process that took them; on one machine they share a clock, on a cluster
they are only as close as the machines' clocks."""

from __future__ import annotations

import itertools
import os
import time
from collections import defaultdict
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Start:
    """An actor's start: its process created, its constructor entered (modules imported), its worker built."""

    worker: str
    process: float
    entered: float
    built: float


@dataclass(frozen=True)
class Trip:
    """One unit: sent by the driver to actor ``slot``, run by ``worker`` (``work`` seconds of it on pairs),
    its result received by the driver and handed on (stored) before the driver went on."""

    slot: int
    worker: str
    sent: float
    started: float
    finished: float
    received: float
    stored: float
    work: float


@dataclass
class Timeline:
    """One Ray run, from the moment its actors were requested to the moment its last result was stored."""

    workers: int
    requested: float = field(default_factory=time.time)
    ended: float = 0.0
    starts: dict[str, Start] = field(default_factory=dict)
    trips: list[Trip] = field(default_factory=list)

    def breakdown(self) -> dict[str, float]:
        """Worker-seconds between ``requested`` and ``ended`` (they sum to workers x that span) split into the
        work on pairs and the rest, plus the driver's own seconds per unit and each actor's start split."""
        slots: dict[int, list[Trip]] = defaultdict(list)
        for trip in sorted(self.trips, key=lambda t: t.started):
            slots[trip.slot].append(trip)
        parts = dict.fromkeys(("startup", "work", "in_task", "between_tasks", "restarts", "tail"), 0.0)
        for slot in range(self.workers):
            trips = slots.get(slot, [])
            if not trips:
                parts["tail"] += self.ended - self.requested  # an actor that never got a unit
                continue
            first = self.starts.get(trips[0].worker)
            built = first.built if first else trips[0].started
            parts["startup"] += built - self.requested
            parts["between_tasks"] += trips[0].started - built
            for previous, trip in itertools.pairwise(trips):
                gap = "restarts" if trip.worker != previous.worker else "between_tasks"
                parts[gap] += trip.started - previous.finished
            for trip in trips:
                parts["work"] += trip.work
                parts["in_task"] += trip.finished - trip.started - trip.work
            parts["tail"] += self.ended - trips[-1].finished
        n = max(len(self.trips), 1)
        starts = list(self.starts.values())
        k = max(len(starts), 1)
        return {
            **parts,
            "span": self.ended - self.requested,
            "units": float(len(self.trips)),
            "return_per_unit": sum(t.received - t.finished for t in self.trips) / n,
            "store_per_unit": sum(t.stored - t.received for t in self.trips) / n,
            "actor_process": sum(max(s.process - self.requested, 0.0) for s in starts) / k,
            "actor_imports": sum(s.entered - max(s.process, self.requested) for s in starts) / k,
            "actor_build": sum(s.built - s.entered for s in starts) / k,
        }


def process_started() -> float:
    """When this process was created (``time.time()`` scale, to 10 ms), from ``/proc``; now where unreadable."""
    try:
        with open("/proc/self/stat") as handle:
            ticks = int(handle.read().rpartition(")")[2].split()[19])
        with open("/proc/uptime") as handle:
            uptime = float(handle.read().split()[0])
        return time.time() - (uptime - ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return time.time()
