"""The Ray engine's bookkeeping without Ray: the order units are handed out in (largest expected cost first,
every explainer measured early), how many are queued per actor (two while many remain, one near the end),
and the timeline's split of a run's worker-seconds, on hand-built cases with known answers."""

from __future__ import annotations

from typing import Any

import pytest

from perturbx.engines import ray_engine
from perturbx.engines.ray_engine import _Actor, _dispatch
from perturbx.engines.schedule import Schedule
from perturbx.engines.spec import EngineSpec
from perturbx.engines.timeline import Start, Timeline, Trip


def schedule(units: list[tuple[str, int]]) -> Schedule:
    return Schedule(units, kind=lambda u: u[0], size=lambda u: u[1])


def test_every_kind_goes_out_once_before_the_costliest_known_unit() -> None:
    plan = schedule([("rise", 2), ("shap", 2), ("rise", 4), ("ig", 1), ("shap", 3)])
    assert len(plan) == 5
    assert [plan.pop() for _ in range(3)] == [("rise", 4), ("shap", 3), ("ig", 1)]  # one per kind, largest first
    plan.learn(("rise", 4), 8.0)  # 2 s per image
    plan.learn(("shap", 3), 1.5)  # 0.5 s per image
    plan.learn(("ig", 1), 0.1)
    assert [plan.pop() for _ in range(2)] == [("rise", 2), ("shap", 2)]  # 4 s expected, then 1 s
    assert len(plan) == 0


def test_a_kind_sent_but_not_yet_measured_counts_as_the_costliest_known() -> None:
    plan = schedule([("a", 1), ("b", 2), ("a", 1), ("b", 2)])
    assert [plan.pop(), plan.pop()] == [("b", 2), ("a", 1)]
    plan.learn(("a", 1), 3.0)  # a: 3 s per image; b, in flight, is taken to cost as much: 6 s against 3 s
    assert [plan.pop(), plan.pop()] == [("b", 2), ("a", 1)]


def test_short_units_of_one_kind_are_joined_while_many_remain() -> None:
    def join(a: tuple[str, int], b: tuple[str, int]) -> tuple[str, int]:
        return a[0], a[1] + b[1]

    plan = Schedule([("a", 1)] * 12, kind=lambda u: u[0], size=lambda u: u[1], join=join, most=5)
    assert plan.pop(at_least=1.0, keep=2) == ("a", 1)  # its rate is not known yet: sent alone
    plan.learn(("a", 1), 0.25)  # 0.25 s per image: four images make the second asked for
    assert plan.pop(at_least=1.0, keep=2) == ("a", 4)
    assert plan.pop(at_least=2.0, keep=2) == ("a", 5)  # at most 5 images, though 8 would make 2 s
    assert [plan.pop(at_least=1.0, keep=2) for _ in range(2)] == [("a", 1), ("a", 1)]  # 2 left: not joined
    assert len(plan) == 0


def timeline() -> Timeline:
    """Two slots from t=0 to t=10: slot 0 starts at 2 and runs two units (one task second outside its pairs,
    one second waiting between them), slot 1 starts at 3, loses its actor to a restart, ends idle for 2 s."""
    line = Timeline(2, requested=0.0, ended=10.0)
    line.starts = {"w0": Start("w0", -5.0, 1.0, 2.0), "w1": Start("w1", 0.5, 2.0, 3.0), "w2": Start("w2", 4, 4.5, 5)}
    line.trips = [
        Trip(0, "w0", 0.0, 2.0, 5.0, 5.1, 5.3, work=2.0),
        Trip(0, "w0", 0.0, 6.0, 10.0, 10.0, 10.0, work=4.0),
        Trip(1, "w1", 0.0, 3.0, 4.0, 4.2, 4.3, work=1.0),
        Trip(1, "w2", 0.0, 5.0, 8.0, 8.1, 8.2, work=3.0),
    ]
    return line


def test_the_breakdown_splits_the_worker_seconds_exactly() -> None:
    parts = timeline().breakdown()
    assert parts["work"] == pytest.approx(10.0)
    assert parts["startup"] == pytest.approx(2.0 + 3.0)
    assert parts["in_task"] == pytest.approx(1.0 + 0.0 + 0.0 + 0.0)
    assert parts["between_tasks"] == pytest.approx(1.0)
    assert parts["restarts"] == pytest.approx(1.0)
    assert parts["tail"] == pytest.approx(2.0)
    slots = sum(parts[k] for k in ("work", "startup", "in_task", "between_tasks", "restarts", "tail"))
    assert slots == pytest.approx(2 * parts["span"]) and parts["span"] == 10.0
    assert parts["return_per_unit"] == pytest.approx((0.1 + 0.0 + 0.2 + 0.1) / 4)
    assert parts["store_per_unit"] == pytest.approx((0.2 + 0.0 + 0.1 + 0.1) / 4)
    # process waits: 0 (created before the request), 0.5, 4; imports: 1, 1.5, 0.5; builds: 1, 1, 0.5
    assert parts["actor_process"] == pytest.approx(4.5 / 3)
    assert parts["actor_imports"] == pytest.approx(3.0 / 3)
    assert parts["actor_build"] == pytest.approx(2.5 / 3)


class Echo(_Actor):
    """A test actor: a unit ("kind", images) comes back as its own result, with one second per image."""

    def build(self, tag: str) -> str:
        return tag

    def work(self, unit: tuple[str, int]) -> tuple[Any, float]:
        return unit, float(unit[1])


class FakeRay:
    """Enough of Ray for ``_dispatch``: actors run in this process, the oldest unit sent finishes first, and
    every send records how many units its actor then held."""

    class exceptions:
        RayTaskError = RuntimeError

    def __init__(self, units: int) -> None:
        self.left = units  # units not yet sent
        self.sent: list[tuple[int, int, int]] = []  # (actor, units it holds, units not yet sent before this one)
        self.killed: list[Any] = []
        self.holding: dict[int, int] = {}
        self.order = 0

    def remote(self, **options: Any) -> Any:
        fake = self

        class Ref:
            def __init__(self, actor: Any, unit: Any) -> None:
                fake.order += 1
                self.actor, self.unit, self.order = actor, unit, fake.order

        class Method:
            def __init__(self, actor: Any) -> None:
                self.actor = actor

            def remote(self, unit: Any) -> Ref:
                fake.holding[id(self.actor)] = fake.holding.get(id(self.actor), 0) + 1
                fake.sent.append((id(self.actor), fake.holding[id(self.actor)], fake.left))
                fake.left -= 1
                return Ref(self.actor, unit)

        class Handle:
            def __init__(self, instance: Any) -> None:
                self.instance = instance
                self.run = Method(self)

        def wrap(actor_class: type) -> Any:
            return type("Factory", (), {"remote": staticmethod(lambda *args: Handle(actor_class(*args)))})

        return wrap

    def wait(self, refs: list[Any], num_returns: int = 1) -> tuple[list[Any], list[Any]]:
        first = min(refs, key=lambda r: r.order)
        return [first], [r for r in refs if r is not first]

    def get(self, ref: Any) -> Any:
        self.holding[id(ref.actor)] -= 1
        return ref.actor.instance.run(ref.unit)

    def kill(self, actor: Any, no_restart: bool) -> None:
        self.killed.append(actor)


def test_dispatch_queues_two_units_per_actor_only_while_many_remain() -> None:
    units = [(f"k{k % 3}", 1 + k % 2) for k in range(12)]
    fake = FakeRay(len(units))
    results = list(_dispatch(fake, EngineSpec(kind="ray", workers=2), Echo, (".", "w"), schedule(units)))
    assert sorted(results) == sorted(units)  # every unit once
    assert len(fake.killed) == 2
    assert max(held for _, held, _ in fake.sent) == 2  # a second unit is queued early on ...
    assert all(left >= 2 * 2 for _, held, left in fake.sent if held == 2)  # ... but never near the end
    line = ray_engine.last_timeline()
    assert line is not None and len(line.trips) == len(units) and set(line.starts) == {"w"}
    assert sum(t.work for t in line.trips) == sum(size for _, size in units)
