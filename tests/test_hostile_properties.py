"""Property sweeps (hypothesis) over images, targets, YAML and CLI flags: every input is either handled
correctly or refused with one PerturbxError; nothing else escapes. Derandomised, so every run tries the same cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from conftest import TinyCNN
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import perturbx as px
from perturbx.cli import main
from perturbx.models.classifier import ImageClassifier
from perturbx.targets import check_target, resolve_targets

SWEEP = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

DTYPES = st.sampled_from([np.uint8, np.uint16, np.float32, np.float64, np.bool_, np.int32, np.float16])
SHAPES = st.one_of(
    st.tuples(st.integers(0, 9), st.integers(0, 9)),
    st.tuples(st.integers(0, 9), st.integers(0, 9), st.integers(0, 5)),
    st.tuples(st.integers(1, 3), st.integers(1, 5), st.integers(1, 5), st.integers(1, 3)),
)


@SWEEP
@given(arrays(DTYPES, SHAPES))
def test_any_array_becomes_an_rgb_image_or_a_clear_error(array: np.ndarray) -> None:
    try:
        x = px.data.image(array, size=8)
    except px.PerturbxError as err:
        assert str(err).startswith(("image:", "size:")) and len(str(err)) < 200
        return
    assert x.shape == (1, 3, 8, 8) and x.dtype == torch.float32
    assert torch.isfinite(x).all() and float(x.min()) >= 0 and float(x.max()) <= 1
    channels = array.shape[-1] if array.ndim == 3 else 1
    assert channels in (1, 3, 4)


TARGETS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 8),
    st.floats(allow_nan=True),
    st.text(max_size=3),
    st.lists(st.one_of(st.integers(-2, 8), st.booleans(), st.floats()), max_size=3),
    st.lists(st.integers(-1, 8), min_size=2, max_size=2).map(torch.tensor),
    st.sampled_from(
        [
            torch.tensor(1.5),
            torch.tensor([[1, 2]]),
            torch.tensor(3),
            lambda y: y[:, 0],
            lambda y: y,
            lambda y: y[:, 0] * float("nan"),
            [lambda y: y[:, 1]] * 2,
        ]
    ),
)


@SWEEP
@given(TARGETS, st.booleans())
def test_any_target_resolves_to_finite_scores_or_a_clear_error(target: object, nan_outputs: bool) -> None:
    outputs = torch.randn(2, 5, generator=torch.Generator().manual_seed(0))
    if nan_outputs:
        outputs[1, 2] = float("nan")
    try:
        check_target(target, 2)
        targets = resolve_targets(target, outputs)
        scores = [fn(outputs[b : b + 1]) for b, fn in enumerate(targets.fns)]
    except px.PerturbxError as err:
        assert str(err).startswith(("target:", "model:")) and len(str(err)) < 200
        return
    assert not nan_outputs
    assert all(s.shape == (1,) and torch.isfinite(s).all() for s in scores)


WORDS = [
    "name",
    "pipeline",
    "segmenter",
    "sampler",
    "substrate",
    "attributor",
    "grid",
    "cells",
    "bernoulli",
    "p",
    "rise",
    "n_samples",
    "seed",
    "explainer",
    "model",
    "output",
    "logit",
    "gradcam",
    "edges",
    "constant",
]
SCALARS = st.one_of(
    st.sampled_from(WORDS), st.integers(-5, 10**13), st.floats(allow_nan=True), st.booleans(), st.none()
)
TREES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(WORDS), inner, max_size=4)),
    max_leaves=12,
)


@SWEEP
@given(st.one_of(st.dictionaries(st.sampled_from(WORDS), TREES, max_size=4).map(yaml.safe_dump), st.text(max_size=60)))
def test_any_yaml_loads_or_is_a_config_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        explainer = px.load(path)
    except px.ConfigError as err:
        assert len(str(err)) < 1200
        return
    assert isinstance(explainer, px.Explainer)


def tiny(*args: object, **kwargs: object) -> ImageClassifier:
    return ImageClassifier(TinyCNN().eval(), (0.5,) * 3, (0.25,) * 3, list("abcde"), "tiny", input_size=32)


FLAGS = st.lists(
    st.one_of(
        st.tuples(st.just("--device"), st.sampled_from(["cpu", "meta", "mps", "cuda:3", "", "xla", "cpu:0"])),
        st.tuples(st.just("--target"), st.sampled_from(["0", "4", "5", "-1", "x", "1e3"])),
        st.tuples(st.just("--seed"), st.sampled_from(["0", "-1", "7", "nan"])),
        st.tuples(st.just("--n-samples"), st.sampled_from(["1", "8", "0", str(10**12), "2.5"])),
        st.tuples(st.just("--model"), st.sampled_from(["", "tiny", "torchvision:nope", ":"])),
        st.tuples(st.just("--image"), st.sampled_from(["chelsea", "", "nope", "nope.png", "/", "x.png"])),
        st.tuples(st.just("--out"), st.sampled_from(["OUT/map.png", "OUT", "OUT/map.gif", "OUT/file/map.png", ""])),
        st.tuples(st.just("--quiet")),
    ),
    max_size=4,
)


@settings(SWEEP, max_examples=25)  # each example may run a whole (tiny) explanation
@given(FLAGS)
def test_any_flags_succeed_or_fail_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, flags: list[tuple[str, ...]]
) -> None:
    monkeypatch.setattr(px.models, "load", tiny)
    monkeypatch.setenv("PERTURBX_TUNING", "off")
    (tmp_path / "file").touch()
    config = tmp_path / "rise.yaml"
    config.write_text("explainer: {name: pipeline, segmenter: {name: grid, cells: 4}, n_samples: 8}\n")
    argv = ["explain", "--config", str(config), "--out", str(tmp_path / "default.png")]
    argv += [word.replace("OUT", str(tmp_path)) for flag in flags for word in flag]
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse: a usage line and one error line
        assert exit_.code == 2 and ": error: argument" in capsys.readouterr().err.strip().splitlines()[-1]
        return
    out, err = capsys.readouterr()
    if code == 0:
        assert "wrote" in out
    else:
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and lines[0].startswith("perturbx: error:"), err
