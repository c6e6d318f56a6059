"""Every sampler with every attributor: legal pairs give finite maps of the right shape, illegal ones a clear
error before any model query; canonical pairs also compose with other segmenters and substrates."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import CountingModel, TinyCNN

import perturbx as px
from perturbx.errors import PerturbxError
from perturbx.seeding import stream

ROOT = Path(__file__).resolve().parents[1]
SIZE, N = 16, 24
SEGMENTER = {"name": "grid", "cells": 2}  # M = 4

SAMPLERS = {
    "bernoulli": "bernoulli",
    "random_p": {"name": "random_p", "distribution": "beta"},
    "single": "single",
    "single_inverse": {"name": "single", "inverse": True},
    "single_ends": {"name": "single", "include_all": True, "include_none": True},
    "exhaustive": "exhaustive",
    "kernelshap": "kernelshap",
    "lime": "lime",
    "permutation": "permutation",
    "sobol": "sobol",
    "antithetic": "antithetic",
    "qmc": "qmc",
    "leverage_shap": {"name": "leverage_shap", "exhaustive": False},
}
ATTRIBUTORS = {
    "rise": "rise",
    "rise_feature": {"name": "rise", "level": "feature"},
    "lime": "lime",
    "kernelshap": "kernelshap",
    "occlusion": "occlusion",
    "pami": "pami",
    "pda": "pda",
    "ciu": "ciu",
    "ciu_single": {"name": "ciu", "form": "single"},
    "shapley_sampling": "shapley_sampling",
    "sobol": "sobol",
}


def legal(attributor: str, sampler: str, z: torch.Tensor) -> bool:
    """What the mathematics of each attributor needs from the design, written out independently."""
    m = z.shape[1]
    rows = [tuple(r.tolist()) for r in z]
    leave_one_out = all(tuple(1.0 if k != j else 0.0 for k in range(m)) in rows for j in range(m))
    keep_one = all(tuple(1.0 if k == j else 0.0 for k in range(m)) in rows for j in range(m))
    needs = {
        "rise": True,
        "rise_feature": True,
        "lime": len(rows) >= 2,
        "kernelshap": sampler in {"single_ends", "exhaustive", "kernelshap", "leverage_shap", "permutation"},  # y(∅)
        "occlusion": leave_one_out,
        "ciu_single": leave_one_out,
        "pami": keep_one,
        "pda": bool((z < 1).any(0).all()),
        "ciu": bool(((z < 1).any(0) & (z > 0).any(0)).all()),
        "shapley_sampling": sampler == "permutation",
        "sobol": sampler == "sobol",
    }
    return needs[attributor]


def test_the_tables_cover_the_registry() -> None:
    assert {(s if isinstance(s, str) else s["name"]) for s in SAMPLERS.values()} == set(px.registry.names("sampler"))
    assert {(a if isinstance(a, str) else a["name"]) for a in ATTRIBUTORS.values()} == set(
        px.registry.names("attributor"))


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    return TinyCNN().eval()


@pytest.fixture(scope="module")
def x() -> torch.Tensor:
    return torch.rand(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(0))


def pipeline(sampler: object, attributor: object, segmenter: object = SEGMENTER, substrate: object = "constant"
             ) -> px.Pipeline:
    return px.Pipeline(segmenter=segmenter, sampler=sampler, substrate=substrate, attributor=attributor,
                       n_samples=N, seed=0)


@pytest.mark.parametrize("sampler", SAMPLERS)
@pytest.mark.parametrize("attributor", ATTRIBUTORS)
def test_pair(model: torch.nn.Module, x: torch.Tensor, sampler: str, attributor: str) -> None:
    z = px.build("sampler", SAMPLERS[sampler]).sample(N, 4, stream(0, "sampler", 0)).z
    counting = CountingModel(model)
    if not legal(attributor, sampler, z):
        with pytest.raises(PerturbxError, match=r"attributor \w+"):  # when the pipeline is built, or before queries
            pipeline(SAMPLERS[sampler], ATTRIBUTORS[attributor]).explain(counting, x, batch_size=8, progress=False)
        assert counting.batches == []
        return
    exp = pipeline(SAMPLERS[sampler], ATTRIBUTORS[attributor]).explain(counting, x, batch_size=8, progress=False)
    assert exp.maps.shape == (2, 1, SIZE, SIZE)
    assert torch.isfinite(exp.maps).all()
    assert exp.features is not None and all(torch.isfinite(f.scores).all() for f in exp.features)
    assert exp.n_queries == 2 + 2 * len(z)
    if exp.stderr is not None:  # every sampled estimate has an error bar; a fixed design's is exactly 0
        assert exp.stderr.shape == exp.maps.shape and torch.isfinite(exp.stderr).all() and (exp.stderr >= 0).all()
        if sampler in ("single", "single_inverse", "single_ends", "exhaustive"):
            assert (exp.stderr == 0).all()
    assert exp.stderr is not None or attributor == "ciu"


CANONICAL = [
    ("bernoulli", "rise"),
    ("lime", "lime"),
    ("kernelshap", "kernelshap"),
    ("single", "occlusion"),
    ("single_inverse", "pami"),
    ("bernoulli", "pda"),
    ("random_p", "ciu"),
    ("permutation", "shapley_sampling"),
    ("sobol", "sobol"),
    ("exhaustive", "kernelshap"),
]
SEGMENTERS = [
    {"name": "grid", "cells": 2, "edges": "gaussian", "sigma": 2.0},
    {"name": "grid", "cells": 2, "edges": "bilinear", "shift": True},
    {"name": "slic", "n_segments": 5, "compactness": 20.0},
]
SUBSTRATES = ["constant", {"name": "blur", "sigma": 3.0}]


@pytest.mark.parametrize(("sampler", "attributor"), CANONICAL)
@pytest.mark.parametrize("segmenter", range(len(SEGMENTERS)))
@pytest.mark.parametrize("substrate", range(len(SUBSTRATES)))
def test_canonical_pairs_with_other_stages(model: torch.nn.Module, x: torch.Tensor, sampler: str, attributor: str,
                                           segmenter: int, substrate: int) -> None:
    pipe = pipeline(SAMPLERS[sampler], ATTRIBUTORS[attributor], SEGMENTERS[segmenter], SUBSTRATES[substrate])
    exp = pipe.explain(model, x, batch_size=8, progress=False)
    assert exp.maps.shape == (2, 1, SIZE, SIZE) and torch.isfinite(exp.maps).all()


@pytest.mark.parametrize(("sampler", "attributor"), CANONICAL)
def test_batch_size_and_batch_do_not_change_maps(model: torch.nn.Module, x: torch.Tensor, sampler: str,
                                                 attributor: str) -> None:
    together = pipeline(SAMPLERS[sampler], ATTRIBUTORS[attributor]).explain(model, x, batch_size=3, progress=False)
    alone = pipeline(SAMPLERS[sampler], ATTRIBUTORS[attributor]).explain(
        model, x[1:], target=int(together.targets[1]), batch_size=64, progress=False)
    assert torch.allclose(together.maps[1], alone.maps[0], atol=1e-5)


CONFIGS = ["lime", "kernelshap", "occlusion", "pda", "ciu", "sobol", "shapley-sampling", "pami", "pami_windows",
           "rise_anytime", "kernelshap_anytime"]


@pytest.mark.parametrize("name", CONFIGS)
def test_method_configs_run_scaled_down(model: torch.nn.Module, name: str) -> None:
    path = ROOT / "configs" / f"{name}.yaml"
    assert path.read_text().startswith("# ")  # the first line says what the file reproduces
    spec = px.load_config(path).explainer
    if spec["segmenter"]["name"] == "partitions":
        spec = {**spec, "segmenter": {**spec["segmenter"], "segmenters": spec["segmenter"]["segmenters"][5:7]},
                "view": {**spec["view"], "shifts": spec["view"]["shifts"][:2]}}
    elif spec["segmenter"]["name"] == "disks":
        spec = {**spec, "segmenter": {**spec["segmenter"], "stride": 24}}
    elif "stop" in spec:
        sampler = {**spec["sampler"], "block": 8} if spec["sampler"]["name"] == "qmc" else spec["sampler"]
        spec = {**spec, "sampler": sampler,
                "stop": {**spec["stop"], "min_samples": 32, "check_every": 16, "max_samples": 96}}
    else:
        spec = {**spec, "n_samples": 40}
    explainer = px.build("explainer", spec)
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    exp = explainer.explain(model, x, batch_size=16, progress=False)
    assert exp.maps.shape == (1, 1, 64, 64) and torch.isfinite(exp.maps).all()


def test_fixed_design_larger_than_the_request_gets_one_mask_per_row(model: torch.nn.Module, x: torch.Tensor) -> None:
    shifted = {"name": "grid", "cells": 2, "edges": "bilinear", "shift": True}
    small = px.Pipeline(segmenter=shifted, sampler="exhaustive", attributor="kernelshap", n_samples=3,
                        seed=0).explain(model, x[:1], batch_size=8, progress=False)
    exact = px.Pipeline(segmenter=shifted, sampler="exhaustive", attributor="kernelshap", n_samples=16,
                        seed=0).explain(model, x[:1], batch_size=8, progress=False)
    assert small.n_queries == exact.n_queries == 1 + 16
    assert torch.equal(small.maps, exact.maps)
