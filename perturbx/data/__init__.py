"""Images as tensors in [0,1]: bundled photos by name, files, PIL images or arrays; the synthetic
ground-truth benchmark."""

from perturbx.data.images import BUNDLED_IMAGES, image, read, to_tensor
from perturbx.data.synthetic import SyntheticSet, synthetic

__all__ = ["BUNDLED_IMAGES", "SyntheticSet", "image", "read", "synthetic", "to_tensor"]
