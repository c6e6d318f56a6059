"""Every public function, class and method defined in perturbx has a docstring (the API reference is built
from them)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import perturbx


def public_objects() -> list[tuple[str, object]]:
    found = []
    for info in pkgutil.walk_packages(perturbx.__path__, "perturbx."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        module = importlib.import_module(info.name)
        found.append((info.name, module))
        for name, value in vars(module).items():
            if name.startswith("_") or getattr(value, "__module__", None) != module.__name__:
                continue
            if inspect.isclass(value):
                found.append((f"{info.name}.{name}", value))
                for attr, member in vars(value).items():
                    if attr.startswith("_"):
                        continue
                    if isinstance(member, (staticmethod, classmethod)):
                        member = member.__func__
                    if isinstance(member, property):
                        member = member.fget
                    if inspect.isfunction(member):
                        found.append((f"{info.name}.{name}.{attr}", (value, attr)))
            elif inspect.isfunction(value):
                found.append((f"{info.name}.{name}", value))
    return found


def has_doc(obj: object) -> bool:
    if isinstance(obj, tuple):  # a method: its own docstring or the one it overrides
        cls, attr = obj
        return bool(inspect.getdoc(getattr(cls, attr)))
    return bool((obj.__doc__ or "").strip())


def test_the_walk_finds_the_package():
    names = {name for name, _ in public_objects()}
    expected = {"perturbx.registry.register", "perturbx.viz.overlay.explanation_figure",
                "perturbx.pipelines.pipeline.Pipeline", "perturbx.samplers.base.Sampler.sample"}
    assert expected <= names


def test_every_public_object_has_a_docstring():
    missing = [name for name, obj in public_objects() if not has_doc(obj)]
    assert not missing, "missing docstrings:\n" + "\n".join(missing)
