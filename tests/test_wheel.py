"""The wheel works outside a checkout: built, installed into a fresh virtual environment, run by name."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.timeout(300)
def test_wheel_installs_and_explains_with_a_bundled_config(tmp_path: Path) -> None:
    """``pip wheel`` then ``pip install --no-deps`` into a venv that borrows the heavy dependencies (torch ...) from
    this environment; ``perturbx`` then runs from an empty folder, so nothing can come from the checkout."""
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(ROOT)],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    (wheel,) = wheels.glob("perturbx-*.whl")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "--ignore-installed",
            "-q",
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PERTURBX_TUNING": "off"}
    done = subprocess.run(
        [
            str(env_dir / "bin" / "perturbx"),
            "explain",
            "--config",
            "rise",
            "--model",
            "synthetic_cnn",
            "--image",
            "coffee",
            "--n-samples",
            "8",
            "--quiet",
            "--out",
            "map.png",
        ],
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    assert "model queries: 9" in done.stdout and (work / "map.png").read_bytes()[:4] == b"\x89PNG"
    probe = (
        "import perturbx as px; from perturbx.cli import main; print(px.__file__, px.load('gradcam').output_mode); "
        "main(['list', 'configs'])"
    )
    listing = subprocess.run(
        [str(python), "-c", probe], capture_output=True, text=True, cwd=work, env=env, check=True
    ).stdout
    assert listing.startswith(f"{env_dir}/") and " logit\n" in listing
    assert "kernelshap" in listing and "compare_methods" in listing
