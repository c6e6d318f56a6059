"""Precision (bf16/fp16 autocast, recorded in every row), ``--device auto`` and the dry-run sizing."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from perturbx.cli import main
from perturbx.engines.work import pick_device
from perturbx.errors import PerturbxError
from perturbx.experiments import load_experiment, run
from perturbx.models import ModelAdapter
from tests.experiment_models import tiny_cnn

ROOT = Path(__file__).resolve().parents[1]
CONFIG = """dataset: {kind: synthetic, n: 5, size: 32}
model: synthetic_cnn
explainers: {s: saliency}
metrics: [{name: deletion, step: 256}]
"""


@pytest.mark.parametrize("precision,tolerance", [("bf16", 0.05), ("fp16", 0.01)])
def test_autocast_scores_are_float32_and_close_to_full_precision(precision: str, tolerance: float) -> None:
    model, x = tiny_cnn(), torch.rand(6, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    full = ModelAdapter(model, output="logit", batch_size=6)(x)
    low = ModelAdapter(model, output="logit", batch_size=6, precision=precision)(x)
    assert low.dtype == torch.float32 and not torch.equal(low, full)  # autocast really ran
    assert torch.allclose(low, full, atol=tolerance * float(full.abs().max()))
    with pytest.raises(PerturbxError, match="unknown precision 'fp8'"):
        ModelAdapter(model, precision="fp8")


def test_precision_is_in_the_hash_and_in_every_row(tmp_path: Path) -> None:
    config = tmp_path / "e.yaml"
    config.write_text(CONFIG + "precision: bf16\n")
    plain = load_experiment({**load_experiment(config).data, "precision": "fp32"}, root=tmp_path)
    assert load_experiment(config).hash != plain.hash
    assert plain.hash == load_experiment({k: v for k, v in plain.data.items() if k != "precision"}, root=tmp_path).hash
    assert plain.hash == load_experiment({**plain.data, "engine": {"kind": "ray", "workers": 5}}, root=tmp_path).hash
    run(config, tmp_path / "out", device="cpu", progress=False)
    with open(tmp_path / "out" / "rows.csv", newline="") as handle:
        assert {row["precision"] for row in csv.DictReader(handle)} == {"bf16"}


def test_device_auto_picks_cuda_only_when_present(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pick_device("auto") == pick_device(None) == torch.device("cpu")
    for name, match in [("meta", "'meta' is not supported"), ("mps", "'mps' is not supported"),
                        ("cuda", "CUDA is not available"), ("gpu9", "unknown device 'gpu9'")]:
        with pytest.raises(PerturbxError, match=match):
            pick_device(name)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert pick_device("auto") == torch.device("cuda")
    with pytest.raises(PerturbxError, match="has 1 CUDA device"):
        pick_device("cuda:1")


def test_dry_run_counts_queries_on_the_first_image(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    config = tmp_path / "e.yaml"
    config.write_text(CONFIG)
    assert main(["evaluate", "--config", str(config), "--dry-run", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    # 1 forward for the target + 1 saliency pass + 5 deletion points (0, 256, ..., 1024 of 32x32 pixels)
    assert "  s: 7 model queries per image" in out and "total: 35 model queries over 5 images" in out
    assert "time with 1/2/4/8 workers" in out and "disk: about" in out and not (tmp_path / "runs").exists()
