"""Experiment YAML validation (errors name the field), sweep expansion, the store and the summary table."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch

from perturbx.errors import ConfigError, PerturbxError
from perturbx.experiments import expand, load_experiment
from perturbx.experiments.store import Store
from perturbx.experiments.summary import format_table, summarise, write_csv
from perturbx.metrics.base import Curve
from perturbx.metrics.results import Results

ROOT = Path(__file__).resolve().parents[1]

BASE = {
    "name": "pipeline",
    "segmenter": {"name": "grid", "cells": 4},
    "sampler": "bernoulli",
    "attributor": "rise",
    "n_samples": 16,
}


def experiment(**changes: Any) -> dict[str, Any]:
    data = {
        "dataset": {"kind": "bundled", "images": ["chelsea"], "size": 32},
        "model": {"module": "tests.experiment_models:tiny_cnn"},
        "explainers": {"grid": {**BASE, "sweep": {"segmenter.edges": ["hard", "gaussian"]}}},
        "metrics": ["deletion"],
    }
    data.update(changes)
    return data


def test_sweep_is_the_cartesian_product_named_by_its_values() -> None:
    spec = {**BASE, "sweep": {"segmenter.edges": ["hard", "bilinear"], "attributor+sampler": [
        ["rise", "bernoulli"], ["kernelshap", {"name": "kernelshap", "paired": False}]]}}
    out = expand("g", spec, "explainers.g")
    assert list(out) == [
        "g[edges=hard, attributor+sampler=rise+bernoulli]",
        "g[edges=hard, attributor+sampler=kernelshap+kernelshap]",
        "g[edges=bilinear, attributor+sampler=rise+bernoulli]",
        "g[edges=bilinear, attributor+sampler=kernelshap+kernelshap]",
    ]
    last = out["g[edges=bilinear, attributor+sampler=kernelshap+kernelshap]"]
    assert last["segmenter"] == {"name": "grid", "cells": 4, "edges": "bilinear"}
    assert last["sampler"] == {"name": "kernelshap", "paired": False} and last["attributor"] == "kernelshap"
    assert spec["segmenter"] == {"name": "grid", "cells": 4}  # the base is not modified
    # a component given by name gets parameters; values told apart only by parameters show them
    out = expand("g", {**BASE, "sweep": {"sampler.p": [0.3], "substrate": [{"name": "constant", "color": "grey"},
                                                                          {"name": "constant", "color": "black"}]}},
                 "e")
    assert out['g[p=0.3, substrate=constant{"color":"grey"}]']["sampler"] == {"name": "bernoulli", "p": 0.3}
    assert len(out) == 2
    assert expand("plain", "gradcam", "e") == {"plain": "gradcam"}


def test_experiment_builds_every_swept_explainer_and_hashes_the_config() -> None:
    built = load_experiment(experiment(), root=ROOT)
    assert list(built.explainers) == ["grid[edges=hard]", "grid[edges=gaussian]"]
    twice = load_experiment(experiment(metrics=["deletion", {"name": "deletion", "step": 10}]), root=ROOT)
    assert [m.spec()["step"] for m in twice.metrics] == [224, 10]
    assert built.explainers["grid[edges=gaussian]"].segmenter.edges == "gaussian"
    assert built.hash == load_experiment(experiment(), root=ROOT).hash
    assert built.hash != load_experiment(experiment(metrics=["insertion"]), root=ROOT).hash


@pytest.mark.parametrize(
    "changes,match",
    [
        ({"explainer": {}}, "experiment.explainer: unknown parameter"),
        ({"dataset": {"kind": "bundled", "images": ["chelsea"], "colour": 1}}, "dataset.bundled.colour: unknown"),
        ({"dataset": {"kind": "bundled", "images": []}}, "dataset.bundled.images"),
        ({"model": {"name": "x", "module": "a:b"}}, "experiment.model: give exactly one of name"),
        ({"explainers": {}}, "experiment.explainers"),
        ({"metrics": ["delition"]}, "metrics[0]: unknown metric 'delition'. Did you mean 'deletion'"),
        ({"target": "truth"}, "experiment.target"),
        ({"explainers": {"g": {**BASE, "sweep": {"attributor": ["rise", "rsie"]}}}},
         "explainers.g g[attributor=rsie]: pipeline.attributor: unknown attributor 'rsie'. Did you mean 'rise'"),
        ({"explainers": {"g": {**BASE, "sweep": {"segmentr.edges": ["hard"]}}}},
         "explainers.g.sweep.segmentr.edges: bad path, the base spec has no 'segmentr'"),
        ({"explainers": {"g": {**BASE, "sweep": {"n_samples.size": [2]}}}},
         "explainers.g.sweep.n_samples.size: bad path, n_samples is 16"),
        ({"explainers": {"g": {**BASE, "sweep": {"segmenter..edges": ["hard"]}}}},
         "explainers.g.sweep.segmenter..edges: 'segmenter..edges' is not a dotted field path"),
        ({"explainers": {"g": {**BASE, "sweep": {"segmenter.edgez": ["hard"]}}}},
         "explainers.g g[edgez=hard]: pipeline.segmenter: grid.edgez: unknown parameter"),
        ({"explainers": {"g": {**BASE, "sweep": {"segmenter.edges": []}}}},
         "explainers.g.sweep.segmenter.edges: expected a non-empty list"),
        ({"explainers": {"g": {**BASE, "sweep": {"segmenter.edges": "hard"}}}},
         "explainers.g.sweep.segmenter.edges: expected a non-empty list"),
        ({"explainers": {"g": {**BASE, "sweep": {}}}}, "explainers.g.sweep: expected a mapping"),
        ({"explainers": {"g": {**BASE, "sweep": {"attributor+sampler": [["rise"]]}}}},
         "explainers.g.sweep.attributor+sampler: each value must be a list of 2 values"),
    ],
)
def test_config_errors_name_the_field(changes: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_experiment(experiment(**changes), root=ROOT)
    assert match in str(info.value)


def test_folder_dataset_errors_name_the_field(tmp_path: Path) -> None:
    from perturbx.experiments.runner import run

    config = tmp_path / "e.yaml"
    config.write_text("dataset: {kind: folder, path: nowhere}\nmodel: synthetic_cnn\nexplainers: {s: saliency}\n"
                      "metrics: [deletion]\n")
    with pytest.raises(ConfigError, match=r"dataset\.path: no such folder"):
        run(config, tmp_path / "out", progress=False)
    config.write_text("dataset: {kind: bundled, images: [chelsea], size: 32}\nmodel: synthetic_cnn\ntarget: label\n"
                      "explainers: {s: saliency}\nmetrics: [deletion]\n")
    with pytest.raises(ConfigError, match="target: 'label' needs a dataset with labels"):
        run(config, tmp_path / "out", progress=False)
    config.write_text("dataset: {kind: bundled, images: [chelsea], size: 32}\nmodel: synthetic_cnn\n"
                      "explainers: {s: saliency}\nmetrics: [pointing_game]\n")
    with pytest.raises(ConfigError, match=r"metrics\[0\]: pointing_game needs ground-truth masks"):
        run(config, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()  # nothing written before the inputs are known to be good


def test_shipped_experiment_configs_validate() -> None:
    configs = sorted((ROOT / "configs" / "experiments").glob("*.yaml"))
    assert {c.stem for c in configs} >= {"compare_methods", "smooth_edges"}
    for config in configs:
        assert config.read_text().startswith("# ")
        built = load_experiment(config)
        assert built.explainers and built.metrics
    smooth = load_experiment(ROOT / "configs" / "experiments" / "smooth_edges.yaml")
    assert len(smooth.explainers) == 9
    assert {e.segmenter.edges for e in smooth.explainers.values()} == {"hard", "gaussian", "bilinear"}


def _results(values: dict[str, float]) -> Results:
    curve = Curve(torch.tensor([0.0, 1.0]), torch.tensor([1.0, 0.5]), "fraction")
    return Results([{"image": 0, "explainer": "e", "metric": m, "value": v, "step": 3} for m, v in values.items()],
                   {(0, "e", "deletion"): curve})


def test_store_keeps_pairs_refuses_duplicates_and_other_experiments(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite"
    store = Store(path, "abc", "text")
    store.add("img", "e", _results({"deletion": 0.25, "mif": math.nan}), 1.0)
    with pytest.raises(Exception, match="UNIQUE"):
        store.add("img", "e", _results({"deletion": 0.25}), 1.0)
    assert store.done() == {("img", "e")}  # the failed pair left nothing behind
    rows = store.rows()
    assert len(rows) == 2 and rows[0]["value"] == 0.25 and rows[0]["step"] == 3 and math.isnan(rows[1]["value"])
    assert store.curves()[0]["y"] == [1.0, 0.5]
    store.close()
    with pytest.raises(PerturbxError, match="already holds results; pass --resume"):
        Store(path, "abc", "text")
    with pytest.raises(PerturbxError, match="holds another experiment"):
        Store(path, "other", "text", resume=True)
    Store(path, "abc", "text", resume=True).close()
    assert len(Store(path, "new", "text", overwrite=True).rows()) == 0


def test_summary_mean_and_t_interval_hand_computed(tmp_path: Path) -> None:
    rows = [{"explainer": "a", "metric": "m", "value": v, "explain_seconds": 2.0, "explain_queries": 10}
            for v in (1.0, 2.0, 3.0, 4.0, math.nan)]
    rows += [{"explainer": "b", "metric": "m", "value": 5.0, "explain_seconds": None, "explain_queries": None}]
    table = summarise(rows, ["b", "a"])
    assert [r.explainer for r in table] == ["b", "a"]
    a = table[1]
    # mean 2.5, s = sqrt(5/3), t(0.975, 3) = 3.182446305 -> half-width 2.054260
    assert (a.n, a.n_nan, a.mean) == (4, 1, 2.5)
    assert a.std == pytest.approx(math.sqrt(5 / 3))
    assert (a.ci_low, a.ci_high) == (pytest.approx(2.5 - 2.0542603), pytest.approx(2.5 + 2.0542603))
    assert table[0].n == 1 and math.isnan(table[0].ci_low)
    text = format_table(table)
    assert "| a | 2.500 ± 2.054 | 2.00 | 10 |" in text and "t-interval" in text
    header = write_csv(table, tmp_path / "s.csv").read_text().splitlines()[0]
    assert header.split(",")[:8] == ["explainer", "metric", "n", "n_nan", "mean", "std", "ci_low", "ci_high"]


def test_folder_dataset_reads_labels_and_masks_by_file_stem(tmp_path: Path) -> None:
    from PIL import Image

    from perturbx.datasets import FolderSet

    (tmp_path / "masks").mkdir()
    for k, name in enumerate(["b", "a"]):
        Image.fromarray(torch.full((20, 30, 3), 40 * k, dtype=torch.uint8).numpy()).save(tmp_path / f"{name}.png")
        mask = torch.zeros(20, 30, dtype=torch.uint8)
        mask[2:5, 3 + k : 9] = 255
        Image.fromarray(mask.numpy()).save(tmp_path / "masks" / f"{name}.png")
    (tmp_path / "labels.csv").write_text("image,label\na.png,3\nb,1\n")
    data = FolderSet(kind="folder", path=".", size=None, labels="labels.csv", masks="masks").open(tmp_path)
    assert data.ids == ["a", "b"] and data.labels == [3, 1]
    a, b = data.items([0, 1])
    assert a.image.shape == (1, 3, 20, 30) and float(a.image.max()) == pytest.approx(40 / 255)
    assert a.mask.dtype == torch.bool and a.mask.shape == (1, 20, 30)
    assert int(a.mask.sum()) == 3 * 5 and int(b.mask.sum()) == 3 * 6
    (tmp_path / "labels.csv").write_text("image,label\na.png,3\n")
    with pytest.raises(ConfigError, match=r"dataset\.labels: no label for b"):
        FolderSet(kind="folder", path=".", labels="labels.csv").open(tmp_path)


def test_synthetic_dataset_has_labels_masks_and_stable_ids() -> None:
    spec = load_experiment(experiment(dataset={"kind": "synthetic", "n": 3, "seed": 1, "size": 32}), root=ROOT)
    data = spec.spec.dataset.open(ROOT)
    assert data.ids == ["synthetic-1-0000", "synthetic-1-0001", "synthetic-1-0002"]
    assert data.labels == [0, 1, 2]
    last = data.item(2)
    assert last.image.shape == (1, 3, 32, 32) and last.mask.shape == (1, 32, 32) and last.mask.any()


def test_cli_evaluate_user_errors_exit_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from perturbx.cli import main

    config = tmp_path / "e.yaml"
    config.write_text("dataset: {kind: bundled, images: [chelsea]}\nmodel: synthetic_cnn\nexplainers: {s: saliency}\n"
                      "metrics: [deletion]\nseed: 3\n")
    for args, match in [(["--config", str(config)], "experiment " + str(config) + ".seed: unknown parameter"),
                        (["--config", str(tmp_path / "no.yaml")], "--config: no such file"),
                        (["--config", str(config), "--resume", "--overwrite"], "exclude each other")]:
        if "exclude" in match:
            config.write_text(config.read_text().replace("seed: 3\n", ""))
        assert main(["evaluate", "--quiet", *args]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("perturbx: error:") and match in err[0], err
    assert main(["evaluate", "--config", str(config), "--dry-run"]) == 0
    assert "1 explainers x 1 metrics; config hash" in capsys.readouterr().out
