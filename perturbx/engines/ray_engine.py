"""The Ray engine: one actor per worker builds the model once and runs (image chunk, explainer) units;
the driver hands out units as actors free up and receives finished pairs, which only it stores. An actor
that dies (a killed process, a lost node) is restarted by Ray and its unit retried, so nothing is lost;
the driver stores a pair once, so nothing is duplicated."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from perturbx.datasets import Dataset
from perturbx.engines.schedule import Schedule
from perturbx.engines.spec import EngineSpec
from perturbx.engines.timeline import Start, Timeline, Trip, process_started
from perturbx.engines.work import Pair, Unit, Worker, pick_device, worker_name
from perturbx.errors import PerturbxError

RETRIES = 3  # restarts of a dead actor, and retries of its unit, before the run fails
IN_FLIGHT = 2  # units per actor while many remain, so an actor never waits for the driver
UNIT_SECONDS = 1.0  # short units of one explainer are joined up to this much work (and JOINED images) per trip
JOINED = 32
_LAST: list[Timeline] = []  # the latest run's timeline (see last_timeline)


class _Actor:
    """Base of the engine's actors: builds its worker in the driver's folder (when it exists here) and times
    its own start and each unit it runs, for the run's timeline."""

    def __init__(self, cwd: str, *args: Any) -> None:
        entered = time.time()
        if os.path.isdir(cwd):
            os.chdir(cwd)  # relative paths and 'module:' models resolve as in the driver (same machine)
        self.name = self.build(*args)
        self.start = Start(self.name, process_started(), entered, time.time())

    def build(self, *args: Any) -> str:
        """Build what the units need; the worker's name (host:pid:device)."""
        raise NotImplementedError

    def work(self, unit: Any) -> tuple[Any, float]:
        """The unit's result, and the seconds of it spent on the work itself."""
        raise NotImplementedError

    def run(self, unit: Any) -> tuple[Any, float, Start, float, float]:
        """The unit's result and work seconds, this actor's start, and when the unit started and finished."""
        started = time.time()
        result, seconds = self.work(unit)
        return result, seconds, self.start, started, time.time()


class RayWorker(_Actor):
    """The actor of an experiment: a ``Worker`` (model loaded once, tuned plan kept) running units."""

    def build(self, data: dict[str, Any], root: str, device: str | None, batch_size: int | str,
              dataset: Dataset | None) -> str:
        self.worker = Worker.build(data, root, device, batch_size, dataset)
        return self.worker.name

    def work(self, unit: Unit) -> tuple[list[Pair], float]:
        """The unit's pairs, and the seconds they took."""
        pairs = self.worker.run(unit)
        return pairs, sum(pair.seconds for pair in pairs)


def import_ray() -> Any:
    """Ray, or a clear error naming the extra that installs it."""
    try:
        import ray
    except ImportError:
        raise PerturbxError("engine: ray is not installed; install it with pip install 'perturbx[ray]'") from None
    return ray


def connect(spec: EngineSpec) -> Any:
    """Join (or start) the Ray instance of ``spec.address`` and check it can hold the workers."""
    ray = import_ray()
    if not ray.is_initialized():
        address = spec.address
        if address not in (None, "auto", "local"):
            _reachable(address)
        try:
            if address is None or address == "local":
                ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
            else:
                ray.init(address=address, log_to_driver=False, configure_logging=False)
        except (ConnectionError, RuntimeError, ValueError) as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise PerturbxError(f"engine.address: cannot join Ray at {address!r}: {first[:200]}") from None
    resources = ray.cluster_resources()
    gpus, cpus = resources.get("GPU", 0), resources.get("CPU", 0)
    if spec.gpus_per_worker > gpus:
        raise PerturbxError(f"engine.gpus_per_worker: {spec.gpus_per_worker:g} GPU(s) per worker, but the Ray "
                            f"cluster has {gpus:g}")
    if spec.cpus_per_worker > cpus:
        raise PerturbxError(f"engine.cpus_per_worker: {spec.cpus_per_worker:g} CPU(s) per worker, but the Ray "
                            f"cluster has {cpus:g}")
    return ray


def _reachable(address: str) -> None:
    """Fail fast (3 s) on a head address nothing listens on, instead of Ray's long connection retries."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise PerturbxError(f"engine.address: expected HOST:PORT, ray://HOST:PORT, 'auto' or null, got {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=3).close()
    except OSError as err:
        raise PerturbxError(f"engine.address: cannot reach {address} ({err.strerror or type(err).__name__})") from None


class RayImageWorker(_Actor):
    """The actor of ``explain --images``: the model (by name) and the explainer built once; returns each
    image's arrays to the driver, which writes them."""

    def build(self, explainer: dict[str, Any], model: tuple[str, str], device: str | None) -> str:
        from perturbx import models, registry
        from perturbx.models.adapter import ModelAdapter

        self.explainer = registry.build("explainer", explainer)
        name, output = model
        target = pick_device(device)
        self.adapter = ModelAdapter(models.load(name, device=target), output=output, progress=False)
        return worker_name(target)

    def work(self, unit: tuple[list[str], int | None, int | None]) -> tuple[list[Any], float]:
        """The results of one chunk of image paths (with the target and size), and their seconds."""
        from perturbx.experiments.folder import explain_image

        start = time.perf_counter()
        paths, target, size = unit
        results = [explain_image(self.explainer, self.adapter, Path(p), target, size) for p in paths]
        return results, time.perf_counter() - start


def run_ray_images(spec: EngineSpec, explainer: dict[str, Any], model: tuple[str, str], device: str | None,
                   paths: Sequence[str], target: int | None, size: int | None) -> Iterator[list[Any]]:
    """Each chunk's image results as it finishes, from ``spec.workers`` image actors (``model``: name, output)."""
    if not paths:
        return
    ray = connect(spec)
    units = [(list(paths[k : k + spec.chunk]), target, size) for k in range(0, len(paths), spec.chunk)]
    schedule = Schedule(units, kind=lambda u: "image", size=lambda u: len(u[0]),
                        join=lambda a, b: (a[0] + b[0], target, size), most=max(spec.chunk, JOINED))
    yield from _dispatch(ray, spec, RayImageWorker, (os.getcwd(), explainer, model, device), schedule)


def run_ray(spec: EngineSpec, data: dict[str, Any], root: str, device: str | None, units: Sequence[Unit],
            dataset: Dataset | None = None) -> Iterator[list[Pair]]:
    """The pairs of each unit as it finishes (any order), computed by ``spec.workers`` actors; ``dataset``,
    the driver's opened one, is sent to each actor once (an actor then lists and checks no file again)."""
    ray = connect(spec)
    schedule = Schedule(units, kind=lambda u: u.explainer, size=lambda u: len(u.indices),
                        join=lambda a, b: Unit(a.indices + b.indices, a.explainer), most=max(spec.chunk, JOINED))
    args = (os.getcwd(), data, root, device, spec.batch_size, dataset)
    yield from _dispatch(ray, spec, RayWorker, args, schedule)


def last_timeline() -> Timeline | None:
    """The timeline of this process's latest Ray run (``benchmarks/scaling.py`` reports it), or None."""
    return _LAST[0] if _LAST else None


def _dispatch(ray: Any, spec: EngineSpec, worker: type, args: tuple[Any, ...], schedule: Schedule) -> Iterator[Any]:
    """Start the actors, keep each busy (a second unit queued on it while many remain, one near the end so
    the last units go to whichever actor frees up first; short units joined while many remain), and yield
    results as they arrive; a dead actor is restarted and its units retried by Ray. Every actor is ended on
    the way out."""
    actor_class = ray.remote(num_cpus=spec.cpus_per_worker, num_gpus=spec.gpus_per_worker,
                             max_restarts=RETRIES, max_task_retries=RETRIES)(worker)
    timeline = Timeline(min(spec.workers, len(schedule)))
    _LAST[:] = [timeline]
    actors = [actor_class.remote(*args) for _ in range(timeline.workers)]
    running: dict[Any, tuple[int, Any, float]] = {}

    def fill(slot: int) -> None:
        depth = IN_FLIGHT if len(schedule) >= IN_FLIGHT * len(actors) else 1
        while schedule and sum(1 for s, _, _ in running.values() if s == slot) < depth:
            unit = schedule.pop(at_least=UNIT_SECONDS, keep=2 * IN_FLIGHT * len(actors))
            running[actors[slot].run.remote(unit)] = (slot, unit, time.time())

    try:
        for slot in range(len(actors)):
            fill(slot)
        while running:
            ready, _ = ray.wait(list(running), num_returns=1)
            slot, unit, sent = running.pop(ready[0])
            try:
                result, seconds, start, started, finished = ray.get(ready[0])
            except ray.exceptions.RayTaskError as err:
                raise err.as_instanceof_cause() from None
            received = time.time()
            schedule.learn(unit, seconds)
            fill(slot)
            timeline.starts.setdefault(start.worker, start)
            yield result
            timeline.ended = time.time()
            timeline.trips.append(Trip(slot, start.worker, sent, started, finished, received, timeline.ended, seconds))
    finally:  # killing the actors also drops their queued units
        for actor in actors:
            ray.kill(actor, no_restart=True)
