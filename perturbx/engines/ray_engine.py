"""The Ray engine: one actor per worker builds the model once and runs (image chunk, explainer) units;
the driver hands out units as actors free up and receives finished pairs, which only it stores. An actor
that dies (a killed process, a lost node) is restarted by Ray and its unit retried, so nothing is lost;
the driver stores a pair once, so nothing is duplicated."""

from __future__ import annotations

import os
import socket
from collections import deque
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from perturbx.engines.spec import EngineSpec
from perturbx.engines.work import Pair, Unit, Worker, pick_device
from perturbx.errors import PerturbxError

RETRIES = 3  # restarts of a dead actor, and retries of its unit, before the run fails
IN_FLIGHT = 2  # units queued per actor, so an actor never waits for the driver


class RayWorker:
    """The actor: a ``Worker`` built in the actor's process, in the driver's folder when it exists here."""

    def __init__(self, data: dict[str, Any], root: str, device: str | None, cwd: str, batch_size: int | str) -> None:
        if os.path.isdir(cwd):
            os.chdir(cwd)  # relative paths and 'module:' models resolve as in the driver (same machine)
        self.worker = Worker.build(data, root, device, batch_size)

    def run(self, unit: Unit) -> list[Pair]:
        """The unit's pairs."""
        return self.worker.run(unit)


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


class RayImageWorker:
    """The actor of ``explain --images``: the model (by name) and the explainer built once; returns each
    image's arrays to the driver, which writes them."""

    def __init__(self, explainer: dict[str, Any], model: tuple[str, str], device: str | None, cwd: str) -> None:
        from perturbx import models, registry
        from perturbx.models.adapter import ModelAdapter

        if os.path.isdir(cwd):
            os.chdir(cwd)
        self.explainer = registry.build("explainer", explainer)
        name, output = model
        self.adapter = ModelAdapter(models.load(name, device=pick_device(device)), output=output, progress=False)

    def run(self, unit: tuple[list[str], int | None, int | None]) -> list[Any]:
        """The results of one chunk of image paths (with the target and size)."""
        from perturbx.experiments.folder import explain_image

        paths, target, size = unit
        return [explain_image(self.explainer, self.adapter, Path(p), target, size) for p in paths]


def run_ray_images(spec: EngineSpec, explainer: dict[str, Any], model: tuple[str, str], device: str | None,
                   paths: Sequence[str], target: int | None, size: int | None) -> Iterator[list[Any]]:
    """Each chunk's image results as it finishes, from ``spec.workers`` image actors (``model``: name, output)."""
    if not paths:
        return
    ray = connect(spec)
    units = [(list(paths[k : k + spec.chunk]), target, size) for k in range(0, len(paths), spec.chunk)]
    yield from _dispatch(ray, spec, RayImageWorker, (explainer, model, device, os.getcwd()), units)


def run_ray(spec: EngineSpec, data: dict[str, Any], root: str, device: str | None,
            units: Sequence[Unit]) -> Iterator[list[Pair]]:
    """The pairs of each unit as it finishes (any order), computed by ``spec.workers`` actors."""
    ray = connect(spec)
    yield from _dispatch(ray, spec, RayWorker, (data, root, device, os.getcwd(), spec.batch_size), units)


def _dispatch(ray: Any, spec: EngineSpec, worker: type, args: tuple[Any, ...], units: Sequence[Any]) -> Iterator[Any]:
    """Start the actors, keep ``IN_FLIGHT`` units queued on each, and yield results as they arrive; a dead
    actor is restarted and its units retried by Ray. Every actor is ended on the way out."""
    actor_class = ray.remote(num_cpus=spec.cpus_per_worker, num_gpus=spec.gpus_per_worker,
                             max_restarts=RETRIES, max_task_retries=RETRIES)(worker)
    actors = [actor_class.remote(*args) for _ in range(min(spec.workers, len(units)))]
    queue = deque(units)
    running: dict[Any, Any] = {}

    def submit(actor: Any) -> None:
        if queue:
            running[actor.run.remote(queue.popleft())] = actor

    try:
        for actor in actors:
            for _ in range(IN_FLIGHT):
                submit(actor)
        while running:
            ready, _ = ray.wait(list(running), num_returns=1)
            actor = running.pop(ready[0])
            try:
                result = ray.get(ready[0])
            except ray.exceptions.RayTaskError as err:
                raise err.as_instanceof_cause() from None
            submit(actor)
            yield result
    finally:  # killing the actors also drops their queued units
        for actor in actors:
            ray.kill(actor, no_restart=True)
