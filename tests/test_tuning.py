"""The tuner: plans that cannot change a score, a cache that expires, lives where XDG says, and can be skipped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import CountingModel, TinyCNN

import perturbx as px
from perturbx.models import tuning

PIPE = px.Pipeline(segmenter={"name": "grid", "cells": 4}, n_samples=24)


def test_search_only_picks_plans_with_the_reference_scores(monkeypatch: pytest.MonkeyPatch) -> None:
    def run(batch: torch.Tensor) -> torch.Tensor:  # batches of 2 round differently, as small GEMMs can
        y = batch.mean(dim=(1, 2, 3))[:, None]
        return y + 1e-6 if len(batch) == 2 else y

    monkeypatch.setattr(tuning, "images_per_second", lambda run, batch: {2: 900.0, 4: 100.0}.get(len(batch), 50.0))
    assert tuning.search(run, (1, 4, 4), torch.device("cpu")) == (4, (1, 4, 8, 16))
    monkeypatch.setattr(tuning, "images_per_second", lambda run, batch: float(len(batch)))
    assert tuning.search(run, (1, 4, 4), torch.device("cpu"))[0] == max(tuning.CPU_BATCHES)


def test_calls_are_padded_to_sizes_with_identical_scores(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PERTURBX_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(tuning, "search", lambda run, shape, device: (4, (4, 8, 16)))
    counting = CountingModel(TinyCNN().eval())
    adapter = px.ModelAdapter(counting, progress=False)
    x = torch.rand(23, 3, 32, 32)
    with adapter.session(), torch.inference_mode():
        assert adapter.plan((3, 32, 32))[0] == 16  # stages chunk by the reference batch whatever the timing says
        counting.batches.clear()
        scores = torch.cat([adapter.forward(chunk) for chunk in x.split(16)])
        assert counting.batches == [4] * 6  # 16 as 4 x 4; the last 7 as 4 + 3 padded to 4
        assert adapter.forward(x[:1]).shape == (1, 5) and counting.batches[-1] == 4
        with torch.enable_grad():  # gradients (and layer hooks) see exactly the caller's batch
            adapter.forward(x[:3])
        assert counting.batches[-1] == 3
    assert torch.equal(scores[:1], adapter(x[:1]))


def test_maps_are_identical_with_tuning_on_off_or_cached(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, images: torch.Tensor
) -> None:
    monkeypatch.setenv("PERTURBX_CACHE_DIR", str(tmp_path))
    model = TinyCNN().eval()
    tuned = PIPE.explain(px.ModelAdapter(model, progress=False), images).maps
    cached = PIPE.explain(px.ModelAdapter(model, progress=False), images).maps
    skipped = PIPE.explain(px.ModelAdapter(model, tune=False), images).maps
    monkeypatch.setenv("PERTURBX_TUNING", "off")
    counting = CountingModel(model)
    switched_off = PIPE.explain(counting, images).maps
    assert set(counting.batches) == {max(tuning.CPU_BATCHES)}  # without tuning, every call has the reference size
    for maps in (cached, skipped, switched_off):
        assert torch.equal(maps, tuned)


def test_cache_entries_expire_sooner_when_measured_on_a_busy_machine(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PERTURBX_CACHE_DIR", str(tmp_path))
    tuning.write_cache("quiet", 8, (8, 16), busy=False)
    tuning.write_cache("busy", 4, (4, 16), busy=True)
    now = json.loads(tuning.cache_file().read_text())["busy"]["measured_at"]
    assert tuning.read_cache("quiet", now + 60) == (8, (8, 16)) and tuning.read_cache("busy", now + 60) == (4, (4, 16))
    assert tuning.read_cache("quiet", now + 7200) == (8, (8, 16)) and tuning.read_cache("busy", now + 7200) is None
    assert tuning.read_cache("quiet", now + 8 * 24 * 3600) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tuning.json"]  # atomic: no temporary left behind


def test_cache_location_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("PERTURBX_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert tuning.cache_file() == tmp_path / "xdg" / "perturbx" / "tuning.json"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert tuning.cache_file() == Path.home() / ".cache" / "perturbx" / "tuning.json"
    monkeypatch.setenv("PERTURBX_CACHE_DIR", str(tmp_path / "mine"))
    assert tuning.cache_file() == tmp_path / "mine" / "tuning.json"
    (tmp_path / "mine").mkdir()
    tuning.cache_file().write_text("[not json")
    assert tuning.read_cache("k") is None
    tuning.write_cache("k", 2, (2, 16), busy=False)
    assert tuning.read_cache("k") == (2, (2, 16))


@pytest.mark.parametrize("value,on", [("off", False), ("0", False), ("No", False), ("on", True), ("1", True)])
def test_switch(monkeypatch: pytest.MonkeyPatch, value: str, on: bool) -> None:
    monkeypatch.setenv("PERTURBX_TUNING", value)
    assert tuning.enabled() is on
