"""Hostile command lines and YAML: one line on stderr, exit 2, checked before the work (no model is loaded)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import torch

import perturbx as px
from perturbx.cli import main
from perturbx.pipelines.config import CONFIG_DIR

GRADCAM_SYNTHETIC = """# Grad-CAM on the bundled synthetic-benchmark CNN.
model: synthetic_cnn
output: logit
explainer: {name: gradcam, layers: net.features.3}
"""


def run(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code: int, err: str, match: str) -> None:
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("perturbx: error:"), err
    assert match in lines[0] and len(lines[0]) <= 420


@pytest.fixture
def no_model_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if a command gets as far as loading a model: these errors must come first."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was loaded before the bad argument was reported")

    monkeypatch.setattr(px.models, "load", refuse)


@pytest.mark.parametrize(
    "args,match",
    [
        (["--device", "meta"], "--device: 'meta' cannot run a model"),
        (["--device", "mps"], "MPS is not available"),
        (["--device", "cuda:99"], "--device"),
        (["--device", "banana"], "unknown device"),
        (["--model", ""], "--model: empty name"),
        (["--model", "  "], "--model: empty name"),
        (["--out", "."], "is a directory"),
        (["--out", "picture.gif"], "needs one of the suffixes"),
        (["--image", "x.png"], "no such file"),
        (["--config", "kernelshp"], "Did you mean 'kernelshap'"),
        (["--n-samples", str(10**12)], "less than or equal to 10000000"),
    ],
)
def test_bad_arguments_fail_before_the_model_loads(
    capsys: pytest.CaptureFixture, no_model_loading: None, args: list[str], match: str
) -> None:
    if torch.backends.mps.is_available() and "mps" in args:
        pytest.skip("this machine has MPS")
    one_line_error(*run(capsys, "explain", "--quiet", *args)[::2], match)


def test_out_below_a_file_or_unreadable_image_fails_first(
    tmp_path: Path, capsys: pytest.CaptureFixture, no_model_loading: None
) -> None:
    (tmp_path / "file").write_text("x")
    one_line_error(*run(capsys, "explain", "--out", str(tmp_path / "file" / "x.png"))[::2], "is a file, not a folder")
    one_line_error(
        *run(capsys, "evaluate", "--config", "smooth_edges", "--out", str(tmp_path / "file"))[::2], "is a file"
    )
    (tmp_path / "x.png").mkdir()
    one_line_error(*run(capsys, "explain", "--image", str(tmp_path / "x.png"))[::2], "is a directory")
    (tmp_path / "text.png").write_text("not a picture")
    one_line_error(*run(capsys, "explain", "--image", str(tmp_path / "text.png"))[::2], "not an image file")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_output_folder(tmp_path: Path, capsys: pytest.CaptureFixture, no_model_loading: None) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    one_line_error(*run(capsys, "explain", "--out", str(locked / "x.png"))[::2], "permission denied")
    one_line_error(
        *run(capsys, "evaluate", "--config", "smooth_edges", "--out", str(locked / "run"))[::2], "permission denied"
    )


def test_quiet_gradcam_config_runs_and_existing_out_dir_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    config = tmp_path / "gradcam.yaml"
    config.write_text(GRADCAM_SYNTHETIC)
    out = tmp_path / "map.png"
    code, stdout, err = run(
        capsys, "explain", "--config", str(config), "--image", "coffee", "--out", str(out), "--quiet"
    )
    assert code == 0 and "method: gradcam" in stdout and err == ""
    assert out.read_bytes()[:4] == b"\x89PNG"
    one_line_error(*run(capsys, "explain", "--config", str(config), "--out", str(tmp_path))[::2], "is a directory")


def test_list_configs_and_run_a_bundled_config_by_name(capsys: pytest.CaptureFixture) -> None:
    code, out, _ = run(capsys, "list", "configs")
    assert code == 0 and "kernelshap" in out and "compare_methods" in out
    code, out, _ = run(capsys, "evaluate", "--config", "compare_methods", "--dry-run")
    assert code == 0 and "config hash" in out


def test_misspelt_option_gets_a_suggestion(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as info:
        main(["explain", "--n-sampels", "3"])
    assert info.value.code == 2 and "did you mean --n-samples?" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["explain", "--output", "x.png"])
    assert "(did you mean --out?)" in capsys.readouterr().err  # once, though two subcommands take --out


@pytest.mark.parametrize(
    "text,match",
    [
        ("model: synthetic_cnn\nmodel: efficientnet_lite0\nexplainer: rise\n", "duplicate key 'model'"),
        ("explainer: {name: pipeline, seed: 1, seed: 2}\n", "duplicate key 'seed'"),
        ("explainer: {name: pipeline, n_sampels: 3}\n", "did you mean 'n_samples'"),
        ("explainer: {name: pipeline, segmenter: {name: grid, cell: 3}}\n", "did you mean 'cells'"),
        ("explainer: rise\noutptu: logit\n", "did you mean 'output'"),
        ("explainer: {name: pipeline, n_samples: 1000000000000}\n", "less than or equal to 10000000"),
        ("explainer: {name: pipeline, seed: " + "9" * 5000 + "}\n", "unreadable YAML"),
        ("explainer: " + "[" * 3000 + "]" * 3000 + "\n", "unreadable YAML"),
        ("explainer: &a [*a]\n", "aliases expand"),
    ],
    ids=["dup-top", "dup-nested", "param", "nested-param", "top-key", "n-samples", "huge-int", "deep", "recursive"],
)
def test_hostile_yaml_is_refused_with_a_short_message(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(px.ConfigError, match=match) as info:
        px.load(path)
    assert len(str(info.value)) < 400


def test_billion_laughs_is_refused_quickly(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    path = tmp_path / "laughs.yaml"
    path.write_text("\n".join(lines) + "\nexplainer: *a9\n")
    start = time.process_time()
    with pytest.raises(px.ConfigError, match="aliases expand to more than"):
        px.load(path)
    assert time.process_time() - start < 5  # a guard against regressions, far above the ~10 ms it takes


def test_merge_keys_still_work(tmp_path: Path) -> None:
    path = tmp_path / "merge.yaml"
    path.write_text("base: &b {name: grid, cells: 3}\nexplainer: {name: pipeline, segmenter: {<<: *b, cells: 5}}\n")
    with pytest.raises(px.ConfigError, match="base: unknown parameter"):
        px.load(path)
    path.write_text("explainer:\n  name: pipeline\n  segmenter: &s {name: grid, cells: 5}\n  n_samples: 8\n")
    assert px.load(path).segmenter.cells == 5
    assert (CONFIG_DIR / "rise.yaml").is_file()
