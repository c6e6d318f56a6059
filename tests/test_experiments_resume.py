"""An experiment run killed part-way (SIGKILL) and resumed gives the table of an uninterrupted run, with
no duplicate rows; a run leaves a summary CSV with mean/CI columns, every row as CSV and the curves PNG."""

from __future__ import annotations

import csv
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from experiment_models import done_pairs
from PIL import Image

from perturbx.cli import main
from perturbx.experiments.runner import DATABASE, run

ROOT = Path(__file__).resolve().parents[1]
N_IMAGES, N_EXPLAINERS, N_METRIC_ROWS = 2, 3, 4  # deletion, mif, lif, srg

CONFIG = """# A tiny experiment for the resume test: two 24 px PNGs, a random CNN, a swept grid pipeline and saliency.
dataset: {kind: folder, path: images, size: null}
model: {module: "tests.experiment_models:tiny_cnn"}
explainers:
  grid:
    name: pipeline
    segmenter: {name: grid, cells: 4, edges: hard}
    sampler: bernoulli
    substrate: {name: constant, color: grey}
    attributor: rise
    n_samples: 32
    sweep:
      segmenter.edges: [hard, bilinear]
  saliency: saliency
metrics:
  - {name: deletion, step: 96}
  - {name: mif_lif, points: 5}
"""


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(ROOT)  # the model is imported as tests.experiment_models
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model runs faster without threads on a busy machine
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for k in range(N_IMAGES):
        Image.fromarray((rng.random((24, 24, 3)) * 255).astype(np.uint8)).save(folder / f"img{k}.png")
    path = tmp_path / "tiny.yaml"
    path.write_text(CONFIG)
    yield path
    torch.set_num_threads(threads)



def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def check_outputs(folder: Path) -> None:
    """summary.csv with mean and 95% interval columns for every explainer x metric; a real curves PNG."""
    summary = read_csv(folder / "summary.csv")
    assert list(summary[0])[:8] == ["explainer", "metric", "n", "n_nan", "mean", "std", "ci_low", "ci_high"]
    assert "t-interval" in summary[0]["ci_method"]
    assert len(summary) == N_EXPLAINERS * N_METRIC_ROWS
    assert {r["metric"] for r in summary} == {"deletion", "mif", "lif", "srg"}
    for row in summary:
        assert int(row["n"]) == N_IMAGES
        assert float(row["ci_low"]) <= float(row["mean"]) <= float(row["ci_high"])
    png = folder / "curves.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(png) as image:
        assert image.width > 600 and image.height > 300


def test_killed_run_resumes_to_the_uninterrupted_table(config: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    reference = run(config, tmp_path / "reference", progress=False)
    assert reference.computed == N_IMAGES * N_EXPLAINERS and reference.skipped == 0
    check_outputs(tmp_path / "reference")

    cut = tmp_path / "cut"
    env = {**os.environ, "PERTURBX_TEST_MODEL_DELAY": "0.1", "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "perturbx.cli", "evaluate", "--config", str(config), "--out", str(cut), "--quiet"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while done_pairs(cut / DATABASE) < 1 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, process.stderr.read().decode()
    finished = done_pairs(cut / DATABASE)
    assert 1 <= finished < N_IMAGES * N_EXPLAINERS  # killed part-way, after the first pair was stored
    with sqlite3.connect(cut / DATABASE) as db:
        assert db.execute("SELECT count(*) FROM rows").fetchone()[0] == finished * N_METRIC_ROWS

    assert main(["evaluate", "--config", str(config), "--out", str(cut), "--resume", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"pairs computed: {N_IMAGES * N_EXPLAINERS - finished}, already done: {finished}" in out
    assert "| grid[edges=bilinear] |" in out

    with sqlite3.connect(cut / DATABASE) as db:
        keys = db.execute("SELECT image, explainer, metric FROM rows").fetchall()
        assert db.execute("SELECT count(*) FROM done").fetchone()[0] == N_IMAGES * N_EXPLAINERS
    assert len(keys) == len(set(keys)) == N_IMAGES * N_EXPLAINERS * N_METRIC_ROWS
    expected, got = read_csv(tmp_path / "reference" / "summary.csv"), read_csv(cut / "summary.csv")
    assert [(r["explainer"], r["metric"], r["n"]) for r in got] == [(r["explainer"], r["metric"], r["n"])
                                                                   for r in expected]
    for a, b in zip(expected, got):
        for column in ("mean", "std", "ci_low", "ci_high"):
            assert float(b[column]) == pytest.approx(float(a[column]), rel=1e-6, abs=1e-9, nan_ok=True)
    rows = read_csv(cut / "rows.csv")
    assert len(rows) == len(read_csv(tmp_path / "reference" / "rows.csv")) == len(keys)

    # a finished run resumes to the same table at no cost; another experiment or a plain rerun is refused
    assert main(["evaluate", "--config", str(config), "--out", str(cut), "--resume", "--quiet"]) == 0
    assert "pairs computed: 0" in capsys.readouterr().out
    config.write_text(CONFIG.replace("points: 5", "points: 6"))
    assert main(["evaluate", "--config", str(config), "--out", str(cut), "--resume", "--quiet"]) == 2
    assert "holds another experiment" in capsys.readouterr().err
    assert main(["evaluate", "--config", str(config), "--out", str(cut), "--quiet"]) == 2
    assert "pass --resume" in capsys.readouterr().err
