"""Images as tensors in [0,1]: bundled photos by name, files, PIL images or arrays."""

from perturbx.data.images import BUNDLED_IMAGES, image, to_tensor

__all__ = ["BUNDLED_IMAGES", "image", "to_tensor"]
