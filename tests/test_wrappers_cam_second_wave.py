"""ShapleyCAM, Finer-CAM and KPCA-CAM: agreement with pytorch-grad-cam 1.5.7, and what sets them apart."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget, ClassifierOutputTarget
from test_wrappers_support import images, logits, small_cnn
from torch import nn

import perturbx as px
from perturbx.errors import PerturbxError
from perturbx.models.adapter import ModelAdapter

CLASSES = [0, 3, 1]


def probabilities(model: nn.Module) -> ModelAdapter:
    return ModelAdapter(model, output="probability", batch_size=8, channels_last=False)


def ours(spec: dict, adapter: ModelAdapter, x: torch.Tensor, target: object) -> np.ndarray:
    return px.build("explainer", spec).explain(adapter, x, target).maps[:, 0].numpy()


def test_shapleycam_matches_pytorch_grad_cam_on_probabilities() -> None:
    """On softmax scores the Hessian term is not zero, so ShapleyCAM and Grad-CAM differ."""
    gc = pytest.importorskip("pytorch_grad_cam")
    model, x = small_cnn(), images(3)
    mine = ours({"name": "shapleycam", "layers": "5"}, probabilities(model), x, CLASSES)
    with gc.ShapleyCAM(model=model, target_layers=[model[5]]) as cam:
        theirs = cam(input_tensor=x, targets=[ClassifierOutputSoftmaxTarget(c) for c in CLASSES])
    assert np.abs(mine - theirs).max() < 1e-4
    gradcam = ours({"name": "gradcam", "layers": "5"}, probabilities(model), x, CLASSES)
    assert np.abs(gradcam - theirs).max() > 1e-3


def test_shapleycam_is_gradcam_for_logits_of_a_relu_network() -> None:
    model, x = small_cnn(), images(2)
    shapley = ours({"name": "shapleycam", "layers": "5"}, logits(model), x, [1, 2])
    gradcam = ours({"name": "gradcam", "layers": "5"}, logits(model), x, [1, 2])
    assert np.abs(shapley - gradcam).max() < 1e-6


def test_finercam_matches_pytorch_grad_cam() -> None:
    gc = pytest.importorskip("pytorch_grad_cam")
    model, x = small_cnn(), images(3)
    mine = ours({"name": "finercam", "layers": "5"}, logits(model), x, None)
    theirs = gc.FinerCAM(model=model, target_layers=[model[5]])(input_tensor=x)
    assert np.abs(mine - theirs).max() < 1e-4
    plain = ours({"name": "finercam", "layers": "5", "alpha": 0.0}, logits(model), x, None)
    gradcam = ours({"name": "gradcam", "layers": "5"}, logits(model), x, None)
    assert np.abs(plain - gradcam).max() < 1e-5  # α = 0: the target's score alone (softmax weights cancel)


def test_finercam_needs_class_targets_and_enough_classes() -> None:
    model, x = small_cnn(classes=3), images(1)
    with pytest.raises(PerturbxError, match="target: finercam needs class indices"):
        px.build("explainer", "finercam").explain(logits(model), x, lambda out: out[:, 0])
    with pytest.raises(PerturbxError, match="n_similar: the model has 3 classes"):
        px.build("explainer", {"name": "finercam", "layers": "5"}).explain(logits(model), x, 0)


def kpca_peer(model: nn.Module, x: torch.Tensor, monkeypatch: pytest.MonkeyPatch, float64: bool, **kw) -> np.ndarray:
    gc = pytest.importorskip("pytorch_grad_cam")
    import pytorch_grad_cam.kpca_cam as module

    if float64:
        project = module.get_2d_projection_kernel
        monkeypatch.setattr(
            module,
            "get_2d_projection_kernel",
            lambda acts, kernel, gamma: project(acts.astype(np.float64), kernel, gamma),
        )
    with gc.KPCA_CAM(model=model, target_layers=[model[5]], **kw) as cam:
        return cam(input_tensor=x, targets=[ClassifierOutputTarget(c) for c in CLASSES])


@pytest.mark.parametrize("kernel", ["sigmoid", "rbf", "poly"])
def test_kpcacam_matches_pytorch_grad_cam(kernel: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """pytorch-grad-cam runs scikit-learn's KernelPCA on float32 activations (ARPACK in float32, about
    2e-4 off); given the same activations in float64 it agrees with ours to float rounding."""
    model, x = small_cnn(), images(3)
    mine = ours({"name": "kpcacam", "layers": "5", "kernel": kernel}, logits(model), x, CLASSES)
    assert np.abs(mine - kpca_peer(model, x, monkeypatch, False, kernel=kernel)).max() < 5e-4
    assert np.abs(mine - kpca_peer(model, x, monkeypatch, True, kernel=kernel)).max() < 1e-5


@pytest.mark.parametrize("kernel", ["sigmoid", "rbf", "poly"])
def test_kpcacam_is_within_1e_4_of_pytorch_grad_cam_run_in_float64(
    kernel: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reference: pytorch-grad-cam on a float64 copy of the small CNN, where its kernel PCA is exact enough.
    Ours agrees with it on the copy, and also on the float32 model (its float64 kernel PCA loses nothing to
    the activations' float32 rounding); pytorch-grad-cam's float32 result is a hundred times further off. The
    sigmoid kernel is the worst case: every entry is about tanh(1) = 0.76 and the centred kernel, which
    carries the map, is 1e-3 of that, so float32 keeps only four of its digits."""
    model, x = small_cnn(), images(3)
    exact = kpca_peer(copy.deepcopy(model).double(), x.double(), monkeypatch, False, kernel=kernel)
    mine = ours({"name": "kpcacam", "layers": "5", "kernel": kernel}, logits(model), x, CLASSES)
    mine_float64 = ours(
        {"name": "kpcacam", "layers": "5", "kernel": kernel}, logits(copy.deepcopy(model).double()), x.double(), CLASSES
    )
    assert np.abs(mine_float64 - exact).max() < 1e-5
    assert np.abs(mine - exact).max() < 1e-5
    peer_float32 = kpca_peer(model, x, monkeypatch, False, kernel=kernel)
    assert np.abs(peer_float32 - exact).max() > 10 * np.abs(mine - exact).max()


def numpy_kernel_pca(acts: np.ndarray, kernel: str) -> np.ndarray:
    """KPCA-CAM's projection written out in float64 numpy: centred rows, kernel, J K J, dense eigh."""
    out = []
    for a in acts.astype(np.float64):
        rows = a.reshape(len(a), -1).T
        rows = rows - rows.mean(axis=0)
        dots, gamma = rows @ rows.T, 1.0 / len(a)
        sq = (rows**2).sum(axis=1)
        k = {
            "sigmoid": np.tanh(gamma * dots + 1.0),
            "rbf": np.exp(-gamma * (sq[:, None] + sq[None] - 2 * dots)),
            "poly": (gamma * dots + 1.0) ** 3,
            "linear": dots,
            "cosine": dots / np.sqrt(sq[:, None] * sq[None]),
        }[kernel]
        j = np.eye(len(k)) - 1.0 / len(k)
        values, vectors = np.linalg.eigh(j @ k @ j)
        top = vectors[:, -1] * np.sqrt(values[-1])
        out.append((top * np.sign(top[np.abs(top).argmax()])).reshape(a.shape[1:]))
    return np.stack(out)


@pytest.mark.parametrize("kernel", ["sigmoid", "rbf", "poly", "linear", "cosine"])
def test_kernel_projection_is_the_float64_kernel_pca_written_out(kernel: str) -> None:
    from perturbx.wrappers.kpca_cam import kernel_projection

    model, x = small_cnn(), images(2)
    with torch.no_grad():
        acts = model[:6](x)  # the small CNN's layer 5: 16 channels, 16×16 positions (Lanczos in ours)
    truth = numpy_kernel_pca(acts.numpy(), kernel)
    mine = kernel_projection(acts.double(), kernel, None, 3, 1.0).numpy()
    assert np.abs(mine - truth).max() < 1e-9 * np.abs(truth).max()


@pytest.mark.slow
def test_new_cams_match_pytorch_grad_cam_on_efficientnet_lite0(real_model: nn.Module) -> None:
    gc = pytest.importorskip("pytorch_grad_cam")
    x, classes = images(1, size=128), [5]
    layer = [real_model.net.head]
    mine = ours({"name": "shapleycam"}, probabilities(real_model), x, classes)
    with gc.ShapleyCAM(model=real_model, target_layers=layer) as cam:
        theirs = cam(input_tensor=x, targets=[ClassifierOutputSoftmaxTarget(c) for c in classes])
    assert np.abs(mine - theirs).max() < 1e-4
    mine = ours({"name": "finercam"}, logits(real_model), x, None)
    assert np.abs(mine - gc.FinerCAM(model=real_model, target_layers=layer)(input_tensor=x)).max() < 1e-4
    mine = ours({"name": "kpcacam"}, logits(real_model), x, classes)
    with gc.KPCA_CAM(model=real_model, target_layers=layer) as cam:
        theirs = cam(input_tensor=x, targets=[ClassifierOutputTarget(c) for c in classes])
    assert np.abs(mine - theirs).max() < 1e-4
