"""DeepLIFT, DeepLIFT-SHAP, GradientSHAP and Expected Gradients: agreement with Captum, summation to
delta, an explicitly written-out max-pool rule, per-image independence and bad baselines."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from test_wrappers_support import images, logits, small_cnn
from torch import nn

import perturbx as px
from perturbx.errors import PerturbxError

CLASSES = torch.tensor([0, 3, 1])


def explain(spec: dict, model: nn.Module, x: torch.Tensor, target: object = CLASSES) -> torch.Tensor:
    return px.build("explainer", spec).explain(logits(model), x, target).meta["attributions"]


def relative(ours: torch.Tensor, theirs: torch.Tensor) -> float:
    return float((ours - theirs).abs().max() / theirs.abs().max())


def peer(cls: type, model: nn.Module, *args: object, **kwargs: object) -> torch.Tensor:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Captum warns about the hooks it sets
        return cls(model).attribute(*args, **kwargs).detach()


def target_scores(model: nn.Module, x: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(x).gather(1, classes.view(-1, 1))[:, 0]


def test_deeplift_matches_captum() -> None:
    """The small CNN has a ReLU module feeding a max-pool: Captum 0.9 then uses the pool's gradient."""
    captum = pytest.importorskip("captum.attr")
    model, x = small_cnn(), images(3)
    ours = explain({"name": "deeplift", "maxpool": "gradient"}, model, x)
    theirs = peer(captum.DeepLift, model, x.clone(), baselines=torch.zeros_like(x), target=CLASSES)
    assert relative(ours, theirs) < 1e-5


def test_deeplift_shap_matches_captum() -> None:
    captum = pytest.importorskip("captum.attr")
    model, x = small_cnn(), images(3)
    refs = images(4, seed=5)
    ours = explain({"name": "deeplift_shap", "baselines": refs, "maxpool": "gradient"}, model, x)
    theirs = peer(captum.DeepLiftShap, model, x.clone(), baselines=refs, target=CLASSES)
    assert relative(ours, theirs) < 1e-5


def test_gradient_shap_matches_captum_with_the_same_draws(monkeypatch: pytest.MonkeyPatch) -> None:
    captum = pytest.importorskip("captum.attr")
    model, x, refs = small_cnn(), images(3), images(4, seed=5)
    explainer = px.build("explainer", {"name": "gradient_shap", "baselines": refs, "n_samples": 6, "sigma": 0.1})
    ours = explainer.explain(logits(model), x, CLASSES).meta["attributions"]
    index, alpha, noise = explainer.draws(len(refs), x.shape[1:])
    n = len(x)  # Captum's rows are image-major: image i, sample j is row i*6 + j
    monkeypatch.setattr(np.random, "choice", lambda k, size: np.tile(index.numpy(), n))
    monkeypatch.setattr(np.random, "uniform", lambda lo, hi, size: np.tile(alpha.numpy(), n))
    monkeypatch.setattr(torch, "normal", lambda mean, std: noise.repeat(n, 1, 1, 1))
    theirs = peer(captum.GradientShap, model, x, baselines=refs, target=CLASSES, n_samples=6, stdevs=0.1)
    assert relative(ours, theirs) < 1e-5


def test_expected_gradients_is_gradient_shap_without_noise() -> None:
    model, x, refs = small_cnn(), images(2), images(3, seed=5)
    eg = explain({"name": "expected_gradients", "baselines": refs, "n_samples": 4}, model, x, [1, 2])
    gs = explain({"name": "gradient_shap", "baselines": refs, "n_samples": 4, "sigma": 0.0}, model, x, [1, 2])
    assert torch.equal(eg, gs)


def pool_net() -> nn.Sequential:
    torch.manual_seed(0)
    return (
        nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 2))
        .double()
        .eval()
    )


def test_maxpool_rescale_rule_written_out_by_hand() -> None:
    """conv → ReLU → max-pool → linear, the multipliers computed explicitly layer by layer."""
    model = pool_net()
    conv, lin = model[0], model[4]
    x = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    r = torch.zeros_like(x)
    a, a_ref = conv(x), conv(r)
    h, h_ref = a.relu(), a_ref.relu()
    y, at = F.max_pool2d(h, 2, return_indices=True)
    y_ref, at_ref = F.max_pool2d(h_ref, 2, return_indices=True)
    m_pool = lin.weight[0].view(1, 4, 4, 4)
    top = torch.maximum(y, y_ref)
    share = torch.zeros(1, 4, 64, dtype=torch.float64)
    share.scatter_add_(2, at.flatten(2), (m_pool * (top - y_ref)).flatten(2))
    share.scatter_add_(2, at_ref.flatten(2), (m_pool * (y - top)).flatten(2))
    m_h = share.view_as(h) / (h - h_ref).where((h - h_ref).abs() > 0, torch.ones_like(h))
    m_a = m_h * (h - h_ref) / (a - a_ref)
    (m_x,) = torch.autograd.grad(conv(x.requires_grad_()), x, m_a)
    expected = ((x - r) * m_x).detach()
    ours = explain({"name": "deeplift"}, model, x.detach(), 0)
    assert float((ours - expected).abs().max()) < 1e-12
    delta = model(x) - model(r)
    assert float(ours.sum() - delta[0, 0].detach()) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("activation", [nn.ReLU6, nn.SiLU, nn.GELU, nn.Tanh, nn.Hardswish])
def test_summation_to_delta_for_every_rescaled_activation(activation: type) -> None:
    """Captum back-propagates plain gradients through ReLU6, SiLU, GELU and Hardswish; ours sums exactly."""
    torch.manual_seed(0)
    model = (
        nn.Sequential(
            nn.Conv2d(3, 6, 3, padding=1),
            activation(),
            nn.MaxPool2d(2),
            nn.Conv2d(6, 6, 3),
            activation(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(6, 3),
        )
        .double()
        .eval()
    )
    x = images(2, size=12).double()
    refs = images(3, seed=4, size=12).double()
    classes = torch.tensor([0, 2])
    dl = explain({"name": "deeplift", "baseline": 0.5}, model, x, classes)
    expected = target_scores(model, x, classes) - target_scores(model, torch.full_like(x, 0.5), classes)
    assert torch.allclose(dl.sum(dim=(1, 2, 3)), expected, atol=1e-10)
    shap = explain({"name": "deeplift_shap", "baselines": refs}, model, x, classes)
    mean_ref = torch.stack([target_scores(model, refs[k : k + 1].expand_as(x), classes) for k in range(3)]).mean(0)
    assert torch.allclose(shap.sum(dim=(1, 2, 3)), target_scores(model, x, classes) - mean_ref, atol=1e-10)


def test_bad_baseline_sets_fail_before_any_query() -> None:
    model, x = small_cnn(), images(2)
    calls = []
    model.register_forward_pre_hook(lambda m, i: calls.append(1))
    cases = {
        "empty": torch.zeros(0, 3, 32, 32),
        "must have the images' shape": torch.zeros(4, 3, 16, 16),
        "expected a set of images": torch.zeros(2, 2, 3, 32, 32),
    }
    for message, refs in cases.items():
        for name in ("deeplift_shap", "gradient_shap", "expected_gradients"):
            with pytest.raises(PerturbxError, match=f"baselines.*{message}"):
                px.build("explainer", {"name": name, "baselines": refs}).explain(model, x)
    assert not calls


@pytest.mark.slow
def test_deeplift_and_gradient_shap_match_captum_on_efficientnet_lite0(
    real_model: nn.Module, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Captum's rescale table lacks ReLU6 (EfficientNet-Lite0's activation); given the same rule, it agrees."""
    captum = pytest.importorskip("captum.attr")
    from captum.attr._core import deep_lift

    x, classes = images(1, size=112), torch.tensor([1])
    refs = images(2, seed=3, size=112) * 0.5
    adapter = px.ModelAdapter(real_model, output="logit", batch_size=4, channels_last=False)
    ours = px.build("explainer", {"name": "deeplift"}).explain(adapter, x, classes).meta["attributions"]
    delta = target_scores(real_model, x, classes) - target_scores(real_model, torch.zeros_like(x), classes)
    assert float(ours.sum()) == pytest.approx(float(delta), abs=1e-3 * float(delta.abs()))
    monkeypatch.setitem(deep_lift.SUPPORTED_NON_LINEAR, nn.ReLU6, deep_lift.nonlinear)
    theirs = peer(captum.DeepLift, real_model, x.clone(), baselines=torch.zeros_like(x), target=classes)
    assert relative(ours, theirs) < 1e-5
    explainer = px.build("explainer", {"name": "gradient_shap", "baselines": refs, "n_samples": 3, "sigma": 0.1})
    ours = explainer.explain(adapter, x, classes).meta["attributions"]
    index, alpha, noise = explainer.draws(len(refs), x.shape[1:])
    monkeypatch.setattr(np.random, "choice", lambda k, size: index.numpy())
    monkeypatch.setattr(np.random, "uniform", lambda lo, hi, size: alpha.numpy())
    monkeypatch.setattr(torch, "normal", lambda mean, std: noise)
    theirs = peer(captum.GradientShap, real_model, x, baselines=refs, target=classes, n_samples=3, stdevs=0.1)
    assert relative(ours, theirs) < 1e-5
