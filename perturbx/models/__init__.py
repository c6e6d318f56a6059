"""Model adapter and named models."""

from perturbx.models.adapter import ModelAdapter, as_adapter
from perturbx.models.classifier import ImageClassifier
from perturbx.models.named import IMAGENET_MEAN, IMAGENET_STD, imagenet_classes, load
from perturbx.models.state import model_device, preserved

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "ImageClassifier",
    "ModelAdapter",
    "as_adapter",
    "imagenet_classes",
    "load",
    "model_device",
    "preserved",
]
