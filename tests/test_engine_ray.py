"""The Ray engine against the local one on one small experiment: the same table with 2 workers even when a
worker is SIGKILLed part-way (Ray restarts it and retries its unit; the driver stores each pair once), and
when the driver itself is SIGKILLed and the run resumed. One local Ray (2 CPUs, no dashboard) serves the
module; the tests that must find Ray absent or unreachable run before it starts."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from experiment_models import done_pairs

from perturbx.cli import main
from perturbx.experiments.runner import DATABASE, run

ray = pytest.importorskip("ray")

ROOT = Path(__file__).resolve().parents[1]
N_PAIRS = 6 * 2

CONFIG = """# The Ray engine test: six synthetic images, a random CNN, a RISE grid and saliency, deletion.
dataset: {kind: synthetic, n: 6, size: 32}
model: {module: "tests.experiment_models:tiny_cnn"}
explainers:
  grid:
    name: pipeline
    segmenter: {name: grid, cells: 4}
    sampler: bernoulli
    attributor: rise
    n_samples: 16
  saliency: saliency
metrics:
  - {name: deletion, step: 128}
engine: {batch_size: 8}
"""


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(ROOT)  # the model is imported as tests.experiment_models (workers start here too)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in a Ray worker with one CPU, so float results agree to the bit
    path = tmp_path / "ray.yaml"
    path.write_text(CONFIG)
    yield path
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A local Ray whose workers inherit a slow model (0.1 s per call) and leave their pids in a folder."""
    pids = tmp_path_factory.mktemp("pids")
    env = {"PERTURBX_TEST_MODEL_DELAY": "0.1", "PERTURBX_TEST_PID_DIR": str(pids)}
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    finally:
        for key, value in saved.items():
            os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)
    yield ray.get_runtime_context().gcs_address, pids
    ray.shutdown()



def table(folder: Path) -> list[dict[str, str]]:
    """summary.csv without the timing column, which differs between any two runs."""
    with open(folder / "summary.csv", newline="") as handle:
        return [{k: v for k, v in row.items() if k != "explain_seconds"} for row in csv.DictReader(handle)]


def rows(folder: Path) -> list[tuple[str, ...]]:
    with open(folder / "rows.csv", newline="") as handle:
        return [(r["image"], r["explainer"], r["metric"], r["value"], r["precision"]) for r in csv.DictReader(handle)]


def test_without_ray_the_error_names_the_extra(config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    assert main(["evaluate", "--config", str(config), "--out", str(tmp_path / "o"), "--engine", "ray"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install 'perturbx[ray]'" in err[0]
    assert not (tmp_path / "o").exists()


def test_an_unreachable_address_is_one_line_before_any_work(config: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture) -> None:
    assert not ray.is_initialized()
    for address, match in [("127.0.0.1:9", "cannot reach 127.0.0.1:9"), ("nowhere", "expected HOST:PORT")]:
        assert main(["evaluate", "--config", str(config), "--out", str(tmp_path / "o"), "--engine", "ray",
                     "--address", address]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"engine.address: {match}" in err[0], err
    assert not (tmp_path / "o").exists()


def test_ray_with_a_worker_killed_part_way_gives_the_local_table(cluster: tuple[str, Path], config: Path,
                                                                 tmp_path: Path) -> None:
    _, pids = cluster
    local = run(config, tmp_path / "local", progress=False)
    assert local.computed == N_PAIRS and len(local.placement) == 1

    killed: list[int] = []

    def kill_one_worker() -> None:
        deadline = time.monotonic() + 60
        while done_pairs(tmp_path / "ray" / DATABASE) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        victim = int(sorted(pids.iterdir(), key=lambda p: p.stat().st_mtime)[0].name)
        os.kill(victim, signal.SIGKILL)
        killed.append(victim)

    killer = threading.Thread(target=kill_one_worker)
    killer.start()
    remote = run(config, tmp_path / "ray", progress=False, engine={"kind": "ray", "workers": 2})
    killer.join()
    assert killed and done_pairs(tmp_path / "ray" / DATABASE) == N_PAIRS
    assert remote.computed == N_PAIRS and sum(remote.placement.values()) == N_PAIRS
    assert len(list(pids.iterdir())) >= 3  # the killed worker was replaced
    assert table(tmp_path / "ray") == table(tmp_path / "local")
    assert rows(tmp_path / "ray") == rows(tmp_path / "local")  # same rows, same order, no duplicates
    assert {r[4] for r in rows(tmp_path / "ray")} == {"fp32"}


def test_more_gpus_per_worker_than_the_cluster_has_is_refused(cluster: tuple[str, Path], config: Path,
                                                             tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    config.write_text(CONFIG.replace("{batch_size: 8}", "{batch_size: 8, kind: ray, gpus_per_worker: 1}"))
    assert main(["evaluate", "--config", str(config), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "engine.gpus_per_worker: 1 GPU(s) per worker, but the Ray cluster has 0" in err[0]
    assert not (tmp_path / "o").exists()


def test_a_killed_ray_driver_resumes_to_the_same_table(cluster: tuple[str, Path], config: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture) -> None:
    address, _ = cluster
    run(config, tmp_path / "local", progress=False)
    cut = tmp_path / "cut"
    process = subprocess.Popen(
        [sys.executable, "-m", "perturbx.cli", "evaluate", "--config", str(config), "--out", str(cut), "--quiet",
         "--engine", "ray", "--address", address],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 90
    while done_pairs(cut / DATABASE) < 1 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, process.stderr.read().decode()[-2000:]
    finished = done_pairs(cut / DATABASE)
    assert 1 <= finished < N_PAIRS

    # resumed here with the local engine: the engine is not part of the config hash
    assert main(["evaluate", "--config", str(config), "--out", str(cut), "--resume", "--quiet"]) == 0
    assert f"pairs computed: {N_PAIRS - finished}, already done: {finished}" in capsys.readouterr().out
    assert table(cut) == table(tmp_path / "local")
    assert rows(cut) == rows(tmp_path / "local")


def test_explain_images_on_ray_writes_what_a_local_run_writes(cluster: tuple[str, Path], config: Path,
                                                              tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import numpy as np
    from PIL import Image

    # the config fixture gives this process one thread, as the workers have: they reuse its tuned plan
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for name in ("a", "b", "c"):
        Image.fromarray((rng.random((20, 20, 3)) * 255).astype(np.uint8)).save(folder / f"{name}.png")
    (folder / "bad.png").write_text("text")
    args = ["explain", "--config", "configs/rise.yaml", "--model", "synthetic_cnn", "--n-samples", "8", "--size", "64",
            "--quiet", "--images", str(folder)]
    assert main([*args, "--out", str(tmp_path / "local")]) == 1
    assert main([*args, "--out", str(tmp_path / "ray"), "--engine", "ray", "--workers", "2"]) == 1
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith(
        "3 explained, 0 already done, 1 failed (bad.png: image:")
    for name in ("a", "b", "c"):
        local, remote = np.load(tmp_path / "local" / f"{name}.npz"), np.load(tmp_path / "ray" / f"{name}.npz")
        assert sorted(local) == sorted(remote)
        assert all(np.array_equal(local[key], remote[key]) for key in local)
