"""Components by name: every stage is a pydantic model of its parameters, registered under a kind.

A new stage is one class decorated with :func:`register`; the package ``__init__`` of its kind
discovers the module on import, so nothing else needs editing.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, ValidationInfo

from perturbx.errors import ConfigError, unknown_choice

KINDS = ("segmenter", "view", "sampler", "substrate", "attributor", "explainer", "metric")
_REGISTRY: dict[str, dict[str, type[Component]]] = {kind: {} for kind in KINDS}

C = TypeVar("C", bound="type[Component]")


class Component(BaseModel):
    """Base of every stage: validated parameters as attributes, a readable repr, built from YAML."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, validate_assignment=True)

    kind: ClassVar[str] = ""
    name: ClassVar[str] = ""
    paper: ClassVar[str] = ""

    def __init__(self, **params: Any) -> None:
        try:
            super().__init__(**params)
        except ValidationError as err:
            raise ConfigError(describe_validation(err, self.name or type(self).__name__)) from None

    def __setattr__(self, field: str, value: Any) -> None:
        """Assignment is validated like construction, with the same errors."""
        try:
            super().__setattr__(field, value)
        except ValidationError as err:
            raise ConfigError(describe_validation(err, self.name or type(self).__name__)) from None

    def spec(self) -> dict[str, Any]:
        """The parameters as a plain dict with the registry name, ready to dump to YAML; objects that have
        no YAML form (a module given as a layer, a tensor) appear as a short description."""
        params = {}
        for field in type(self).model_fields:
            value = getattr(self, field)
            params[field] = (
                value.spec()
                if isinstance(value, Component)
                else self.model_dump(mode="json", include={field}, fallback=_describe)[field]
            )
        return {"name": self.name, **params}


def _describe(value: Any) -> str:
    """A short stand-in for a parameter value that has no YAML form."""
    shape = getattr(value, "shape", None)
    return f"<{type(value).__name__}{' ' + str(list(shape)) if shape is not None else ''}>"


def register(name: str, paper: str = "") -> Any:
    """Class decorator: register a component under ``name`` in the registry of its kind."""

    def decorate(cls: C) -> C:
        if cls.kind not in _REGISTRY:
            raise TypeError(f"{cls.__name__} has no valid kind (got {cls.kind!r})")
        if name in _REGISTRY[cls.kind] and _REGISTRY[cls.kind][name] is not cls:
            raise TypeError(f"{cls.kind} {name!r} is registered twice")
        cls.name = name
        cls.paper = paper or cls.paper
        _REGISTRY[cls.kind][name] = cls
        return cls

    return decorate


def built(kind: str) -> BeforeValidator:
    """Field annotation: a component field of ``kind`` also accepts a name or ``{name: ..., **params}``,
    built through the registry (``Annotated[Substrate, built("substrate")]``)."""

    def build_field(value: Any, info: ValidationInfo) -> Any:
        return build(kind, value, where=info.field_name)

    return BeforeValidator(build_field)


def names(kind: str) -> list[str]:
    """The registered names of one kind, sorted."""
    _check_kind(kind)
    _import_kind(kind)
    return sorted(_REGISTRY[kind])


def get(kind: str, name: str) -> type[Component]:
    """The class registered as ``name`` under ``kind``; a clear error with suggestions if unknown."""
    _check_kind(kind)
    _import_kind(kind)
    try:
        return _REGISTRY[kind][name]
    except KeyError:
        raise unknown_choice(kind, name, _REGISTRY[kind]) from None


def build(kind: str, spec: Any, where: str | None = None) -> Component:
    """Make a component from an instance, a name, or a dict ``{name: ..., **params}``."""
    where = where or kind
    if isinstance(spec, Component):
        if spec.kind != kind:
            raise ConfigError(f"{where}: expected a {kind}, got a {spec.kind} ({spec!r})")
        return spec
    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: expected a {kind} name, a mapping with 'name', or a {kind} object; got {spec!r}")
    params = dict(spec)
    name = params.pop("name", None)
    if not isinstance(name, str):
        raise ConfigError(f"{where}: a {kind} mapping needs a 'name' key (one of: {', '.join(names(kind))})")
    cls = get(kind, name)
    try:
        return cls(**params)
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") if where != kind else err from None


def describe_validation(err: ValidationError, where: str) -> str:
    """One readable line per problem, each naming the field path."""
    lines = []
    for e in err.errors():
        path = ".".join(str(p) for p in e["loc"])
        got = f" (got {e['input']!r})" if "input" in e and not isinstance(e["input"], dict) else ""
        field = f"{where}.{path}" if path else where
        message = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            message = "unknown parameter"
        lines.append(f"{field}: {message}{got}")
    return "; ".join(lines)


def catalogue(kind: str | None = None) -> dict[str, dict[str, type[Component]]]:
    """Registered components, all kinds or one, for listings and generated docs."""
    kinds = [kind] if kind else list(KINDS)
    for k in kinds:
        _check_kind(k)
        _import_kind(k)
    return {k: dict(sorted(_REGISTRY[k].items())) for k in kinds}


def load_package(package: str, namespace: dict[str, Any]) -> list[str]:
    """Import every module of a component package and export its public classes into ``namespace``."""
    exported = []
    pkg = importlib.import_module(package)
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package}.{info.name}")
        for attr, value in vars(module).items():
            if isinstance(value, type) and value.__module__ == module.__name__ and not attr.startswith("_"):
                namespace[attr] = value
                exported.append(attr)
    return sorted(exported)


_PACKAGES = {
    "segmenter": "perturbx.segmenters",
    "view": "perturbx.views",
    "sampler": "perturbx.samplers",
    "substrate": "perturbx.substrates",
    "attributor": "perturbx.attributors",
    "explainer": "perturbx.wrappers",
    "metric": "perturbx.metrics",
}


def _import_kind(kind: str) -> None:
    importlib.import_module(_PACKAGES[kind])
    if kind == "explainer":
        importlib.import_module("perturbx.pipelines")


def _check_kind(kind: str) -> None:
    if kind not in _REGISTRY:
        raise unknown_choice("component kind", kind, KINDS)
