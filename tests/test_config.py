"""YAML configs and the registry: identical maps to Python pipelines, clear errors for bad configs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

import perturbx as px

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


GOOD = """
model: efficientnet_lite0
explainer:
  name: pipeline
  segmenter: {name: grid, cells: 4, edges: bilinear, shift: true}
  sampler: {name: bernoulli, p: 0.4}
  substrate: {name: blur, sigma: 2.0, kernel_size: 7}
  attributor: {name: rise}
  n_samples: 30
  seed: 3
"""


def test_yaml_and_python_pipelines_give_identical_maps(
    tmp_path: Path, tiny_cnn: torch.nn.Module, images: torch.Tensor
) -> None:
    from_yaml = px.load(write(tmp_path, GOOD))
    in_python = px.Pipeline(
        segmenter=px.segmenters.Grid(cells=4, edges="bilinear", shift=True),
        sampler=px.samplers.Bernoulli(p=0.4),
        substrate=px.substrates.Blur(sigma=2.0, kernel_size=7),
        attributor=px.attributors.Rise(),
        n_samples=30,
        seed=3,
    )
    assert from_yaml == in_python
    assert torch.equal(from_yaml.explain(tiny_cnn, images).maps, in_python.explain(tiny_cnn, images).maps)


def test_spec_round_trips_through_yaml(tmp_path: Path) -> None:
    pipe = px.load(write(tmp_path, GOOD))
    again = px.load({"explainer": yaml.safe_load(yaml.safe_dump(pipe.spec()))})
    assert again == pipe


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "configs").glob("*.yaml")))
def test_every_shipped_config_loads(name: str) -> None:
    config = px.load_config(ROOT / "configs" / name)
    assert isinstance(config.build(), px.Explainer)
    assert (ROOT / "configs" / name).read_text().startswith("#"), "first line says what the config reproduces"


@pytest.mark.parametrize(
    "text,match",
    [
        ("explainer: [unclosed", "invalid YAML at line 1"),
        ("- a\n- b\n", "mapping at the top level"),
        ("model: efficientnet_lite0\n", "explainer"),
        ("explainer: {name: pipeline}\nmodle: x\n", "modle"),
        ("explainer: {name: pipelin}\n", "Did you mean 'pipeline'"),
        ("explainer: {name: pipeline, segmenter: {name: gird}}\n", "unknown segmenter 'gird'. Did you mean 'grid'"),
        (
            "explainer: {name: pipeline, sampler: {name: bernoulli, p: 1.5}}\n",
            r"sampler.*p: Input should be less than 1",
        ),
        ("explainer: {name: pipeline, sampler: {name: bernoulli, q: 0.5}}\n", "q: unknown parameter"),
        ("explainer: {name: pipeline, n_samples: 0}\n", "n_samples"),
        ("explainer: {name: pipeline, segmenter: {cells: 3}}\n", "needs a 'name' key"),
        ("explainer: {name: pipeline}\noutput: probs\n", "output"),
    ],
)
def test_bad_configs_name_what_is_wrong(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(px.ConfigError, match=match):
        px.load(write(tmp_path, text))


def test_missing_file() -> None:
    with pytest.raises(px.ConfigError, match="no such file"):
        px.load("does/not/exist.yaml")


def test_python_construction_errors_are_config_errors() -> None:
    with pytest.raises(px.ConfigError, match="segmenter"):
        px.Pipeline(segmenter="gird")
    with pytest.raises(px.ConfigError, match="expected a segmenter, got a sampler"):
        px.Pipeline(segmenter=px.samplers.Bernoulli())
    with pytest.raises(px.ConfigError, match="component kind"):
        px.registry.names("segmentr")


def test_catalogue_lists_every_kind() -> None:
    catalogue = px.catalogue()
    assert "grid" in catalogue["segmenter"] and "rise" in catalogue["attributor"]
    assert "pipeline" in catalogue["explainer"]
