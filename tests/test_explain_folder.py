"""``perturbx explain --images``: one .npz per image equal to a direct explanation, done images skipped on a
rerun, an unreadable image reported by name and skipped (exit 1) without losing the others, bad input exit 2."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from perturbx import data, registry
from perturbx.cli import main
from perturbx.errors import PerturbxError
from perturbx.experiments.folder import explain_folder
from perturbx.models import ModelAdapter
from tests.experiment_models import tiny_cnn

SPEC = {"name": "pipeline", "segmenter": {"name": "grid", "cells": 4}, "sampler": "bernoulli", "attributor": "rise",
        "n_samples": 16}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a", "b", "c"):
        Image.fromarray((rng.random((24, 28, 3)) * 255).astype(np.uint8)).save(images / f"{name}.png")
    (images / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    (images / "notes.txt").write_text("not an image")
    return images


def test_results_match_direct_explanations_and_a_rerun_skips_them(folder: Path, tmp_path: Path) -> None:
    explainer, model = registry.build("explainer", SPEC), ModelAdapter(tiny_cnn(), batch_size=16)  # no tuning
    out = tmp_path / "out"
    first = explain_folder(explainer, model, folder, out, size=None, progress=False)
    assert first.written == ["a.png", "b.png", "c.png"] and first.skipped == []
    assert [name for name, _ in first.failed] == ["broken.png"] and "unreadable image" in first.failed[0][1]
    assert "broken.png: unreadable image" in first.summary() and "3 explained" in first.summary()
    saved = np.load(out / "b.npz")
    direct = explainer.explain(model, data.image(folder / "b.png", None))
    assert np.array_equal(saved["map"], direct.maps[0, 0].numpy()) and saved["map"].shape == (24, 28)
    assert int(saved["target"]) == int(direct.targets[0]) and int(saved["queries"]) == direct.n_queries == 17
    assert str(saved["method"]) == direct.method and str(saved["precision"]) == "fp32"

    (out / "c.npz").unlink()  # as if the run had been killed before c
    again = explain_folder(explainer, model, folder, out, size=None, progress=False)
    assert again.written == ["c.png"] and again.skipped == ["a.png", "b.png"] and len(again.failed) == 1
    assert sorted(p.name for p in out.glob("*.npz")) == ["a.npz", "b.npz", "c.npz"]

    other = registry.build("explainer", {**SPEC, "n_samples": 8})
    with pytest.raises(PerturbxError, match="holds results of another explainer"):
        explain_folder(other, model, folder, out, size=None, progress=False)


def test_cli_reports_failures_by_name_and_refuses_bad_input(folder: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture) -> None:
    torch.manual_seed(0)
    args = ["explain", "--config", "configs/rise.yaml", "--model", "synthetic_cnn", "--n-samples", "8", "--size", "64",
            "--quiet", "--images"]
    out = tmp_path / "out"
    assert main([*args, str(folder / "*.png"), "--out", str(out), "--png"]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith("3 explained, 0 already done, 1 failed (broken.png: unreadable image")
    assert (out / "a.png").read_bytes()[:4] == b"\x89PNG" and np.load(out / "a.npz")["map"].shape == (64, 64)

    (tmp_path / "empty").mkdir()
    (tmp_path / "file").write_text("x")
    for extra, match in [([str(tmp_path / "empty"), "--out", str(out)], "--images: no images"),
                         ([str(folder), "--out", str(tmp_path / "file" / "below")], "--out: cannot create the folder"),
                         ([str(folder)], "--out: give the folder"),
                         ([str(folder), "--out", str(out), "--target", "999"], "--target: class 999 is out of range")]:
        assert main([*args, *extra]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and match in err[0], err
