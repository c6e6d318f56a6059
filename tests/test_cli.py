"""The perturbx command: user errors exit 2 with one line and no traceback; the main job works."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from perturbx.cli import main

ROOT = Path(__file__).resolve().parents[1]


def run(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "args,match",
    [
        (["--image", "nope"], "unknown image 'nope'"),
        (["--image", "missing.png"], "no such file"),
        (["--config", "missing.yaml"], "--config: no such file"),
        (["--model", "no_such_model_anywhere"], "unknown model"),
        (["--model", "torchvision:no_such_net"], "torchvision has no model"),
        (["--target", "-1"], "--target"),
        (["--n-samples", "0"], "--n-samples"),
        (["--tolerance", "1.5"], "--tolerance"),
        (["--measure", "rank"], "--measure: the config has no stopping rule"),
        (["--measure", "spearman"], "--measure"),
        (["--device", "cuda:7"] if not __import__("torch").cuda.is_available() else ["--device", "tpu"], "--device"),
    ],
)
def test_user_errors_exit_2_with_one_line(capsys: pytest.CaptureFixture, args: list[str], match: str) -> None:
    code, _, err = run(capsys, "explain", "--quiet", *args)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("perturbx: error:"), err
    assert match in lines[0]
    assert "Traceback" not in err


def test_bad_yaml_and_unknown_component(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("explainer: {name: pipeline, attributor: {name: rsie}}\n")
    code, _, err = run(capsys, "explain", "--config", str(bad))
    assert code == 2 and "Did you mean 'rise'" in err
    bad.write_text("explainer: {name: pipeline\n")
    code, _, err = run(capsys, "explain", "--config", str(bad))
    assert code == 2 and "invalid YAML" in err


def test_list_shows_components_with_parameters(capsys: pytest.CaptureFixture) -> None:
    code, out, _ = run(capsys, "list")
    assert code == 0
    assert "segmenters:" in out and "grid" in out and "cells = 7" in out and "bernoulli" in out
    code, out, _ = run(capsys, "list", "sampler")
    assert code == 0 and "segmenters:" not in out


def test_argparse_errors_exit_2() -> None:
    done = subprocess.run([sys.executable, "-m", "perturbx.cli", "list", "bogus"], capture_output=True, text=True)
    assert done.returncode == 2 and "invalid choice" in done.stderr


def test_out_of_range_target_is_reported_before_explaining(capsys: pytest.CaptureFixture) -> None:
    code, _, err = run(capsys, "explain", "--quiet", "--target", "5000")
    assert code == 2 and "out of range" in err


@pytest.mark.slow
def test_main_job_explains_the_bundled_photo(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "explanation.png"
    code, stdout, _ = run(capsys, "explain", "--quiet", "--n-samples", "48", "--out", str(out))
    assert code == 0
    assert "predicted: Egyptian cat (class 285" in stdout
    assert "model queries: 49" in stdout
    assert out.stat().st_size > 10_000 and out.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
@pytest.mark.parametrize(("measure", "named"), [([], "max stderr / range"), (["--measure", "rank"], "rank corr")])
def test_tolerance_stops_early_and_reports_the_error(
    tmp_path: Path, capsys: pytest.CaptureFixture, measure: list[str], named: str
) -> None:
    out = tmp_path / "explanation.png"
    code, stdout, _ = run(capsys, "explain", "--quiet", "--tolerance", "0.5", *measure, "--out", str(out))
    assert code == 0
    assert "model queries: 65" in stdout  # converged at the first check, 64 masks and the photo
    assert "stopping rule: converged; error" in stdout and named in stdout
    assert out.read_bytes()[:4] == b"\x89PNG"
