"""The experiment YAML: a dataset, a model, named explainers (with sweeps) and metrics, validated with
errors that name the offending field before any model is loaded."""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from torch import nn

from perturbx import registry
from perturbx.datasets import DatasetSpec
from perturbx.engines.spec import EngineSpec
from perturbx.errors import ConfigError, PerturbxError
from perturbx.experiments.sweep import expand
from perturbx.explainer import Explainer
from perturbx.metrics.base import Metric
from perturbx.models.adapter import OutputMode, Precision
from perturbx.pipelines.config import read_yaml


class ModelSpec(BaseModel):
    """A named model (``perturbx.models.load``) or an import string ``package.module:factory`` whose
    factory returns an ``nn.Module`` (importable from the current folder, e.g. a test helper)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, description="efficientnet_lite0, synthetic_cnn, torchvision:NAME or timm:NAME")
    module: str | None = Field(None, description="'package.module:factory' returning an nn.Module")
    pretrained: bool = Field(True, description="load the weights of a named model")
    kwargs: dict[str, Any] = Field(default_factory=dict, description="keyword arguments of the factory")

    @model_validator(mode="after")
    def _one_source(self) -> ModelSpec:
        if (self.name is None) == (self.module is None):
            raise ValueError("give exactly one of name (a model name) or module ('package.module:factory')")
        if self.module is not None and self.module.count(":") != 1:
            raise ValueError(f"module: expected 'package.module:factory', got {self.module!r}")
        return self

    def load(self, device: Any = "cpu") -> nn.Module:
        """The model, in eval mode on ``device``."""
        from perturbx import models

        if self.name is not None:
            return models.load(self.name, pretrained=self.pretrained, device=device)
        factory = _import(self.module)
        model = factory(**self.kwargs)
        if not isinstance(model, nn.Module):
            raise ConfigError(f"model.module: {self.module} returned {type(model).__name__}, not an nn.Module")
        return model.to(device).eval()


class ExperimentSpec(BaseModel):
    """The YAML as written: ``dataset``, ``model``, ``output``, ``precision``, ``target``, ``explainers``,
    ``metrics`` and ``engine`` (where it runs; not part of the config hash)."""

    model_config = ConfigDict(extra="forbid")

    dataset: DatasetSpec
    model: ModelSpec
    output: OutputMode = Field("probability", description="the model's scores for explainers and metrics")
    precision: Precision = Field("fp32", description="fp32, or bf16/fp16 autocast of the model's forward pass")
    target: Literal["predicted", "label"] | int = Field(
        "predicted", description="the class explained: predicted, the dataset's label, or a class index"
    )
    explainers: dict[str, str | dict[str, Any]] = Field(min_length=1, description="name -> spec (may hold sweep:)")
    metrics: list[str | dict[str, Any]] = Field(min_length=1, description="metric names or specs")
    engine: EngineSpec = Field(default_factory=EngineSpec, description="local or ray (not part of the hash)")

    @model_validator(mode="before")
    @classmethod
    def _model_shorthand(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("model"), str):
            data = {**data, "model": {"name": data["model"]}}
        return data


@dataclass
class Experiment:
    """A validated experiment: the spec, its explainers built and named, metrics built, its hash, and the
    mapping it was read from (Ray workers rebuild the experiment from it)."""

    spec: ExperimentSpec
    explainers: dict[str, Explainer]
    metrics: list[Metric]
    root: Path
    hash: str
    data: dict[str, Any] = field(default_factory=dict)


def load_experiment(source: str | Path | dict[str, Any], root: str | Path | None = None) -> Experiment:
    """Read and validate an experiment from YAML (relative paths resolved against its folder) or a dict."""
    data = source if isinstance(source, dict) else read_yaml(source)
    where = "experiment" if isinstance(source, dict) else f"experiment {source}"
    base = Path(root) if root is not None else (Path.cwd() if isinstance(source, dict) else Path(source).parent)
    try:
        spec = ExperimentSpec(**data)
    except ValidationError as err:
        raise ConfigError(registry.describe_validation(err, where)) from None
    try:
        explainers = _explainers(spec.explainers)
        metrics = _metrics(spec.metrics)
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from None
    return Experiment(spec, explainers, metrics, base.resolve(), config_hash(spec), data)


def config_hash(spec: ExperimentSpec) -> str:
    """SHA-256 of the validated config without its engine (and without the default precision, so stores
    made before precision existed still resume)."""
    leave_out = {"engine"} | ({"precision"} if spec.precision == "fp32" else set())
    text = json.dumps(spec.model_dump(mode="json", exclude=leave_out), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _explainers(entries: dict[str, Any]) -> dict[str, Explainer]:
    """Every entry built, sweeps expanded."""
    built: dict[str, Explainer] = {}
    for name, entry in entries.items():
        where = f"explainers.{name}"
        for full, spec in expand(name, entry, where).items():
            if full in built:
                raise ConfigError(f"{where}: the name {full!r} is used twice")
            label = where if full == name else f"{where} {full}"
            built[full] = _build("explainer", spec, label)
    return built


def _metrics(entries: list[Any]) -> list[Metric]:
    """Every metric built; a metric listed again gets rows of its own (``deletion#2``, from the evaluator)."""
    return [_build("metric", entry, f"metrics[{i}]") for i, entry in enumerate(entries)]


def _build(kind: str, spec: Any, where: str) -> Any:
    """A component, with ``where`` in front of every error (the registry leaves it off unknown names)."""
    try:
        return registry.build(kind, spec, where=where)
    except ConfigError as err:
        message = str(err)
        raise ConfigError(message if message.startswith(where) else f"{where}: {message}") from None


def _import(target: str) -> Callable[..., Any]:
    """``package.module:attr`` imported, with the current folder importable (as ``python -m`` has it)."""
    module_name, attr = target.split(":")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise PerturbxError(f"model.module: cannot import {module_name!r} ({err})") from None
    if not callable(getattr(module, attr, None)):
        raise PerturbxError(f"model.module: {module_name!r} has no callable {attr!r}")
    return getattr(module, attr)
