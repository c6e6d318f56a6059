"""RISE with 8,000 masks on a ResNet-50 with random weights at 224x224: the pipeline's images per second
against the best bare forward pass on the same device, in fp32 and in bf16 (autocast), side by side.

The pipeline runs at the batch size and memory format that were best for the bare forward, so the
ratio is the cost of making masks, blending and accumulating. Made for a GPU (``--device cuda``, the
default when CUDA is present). On a CPU it runs the same code with fewer masks (``--masks``, default 64
there) and smaller batches, so the ratios can be checked anywhere; absolute speeds there say nothing
about a GPU.

    python benchmarks/gpu.py                       # cuda: 8000 masks; cpu: 64 masks
    python benchmarks/gpu.py --masks 8000 --precision fp32 bf16
"""

from __future__ import annotations

import argparse
import time
from contextlib import nullcontext

import torch
import torchvision

import perturbx as px

BATCHES = {"cpu": (4, 8), "cuda": (64, 128, 256, 512)}
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def bare_rate(model: torch.nn.Module, device: str, precision: str, n: int) -> tuple[float, tuple[int, bool]]:
    """Best images/s of the bare forward over batch sizes and memory formats (inputs made beforehand)."""
    best, plan = 0.0, (0, False)
    for channels_last in (False, True):
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        model.to(memory_format=fmt)
        for batch in BATCHES[device]:
            x = torch.rand(batch, 3, 224, 224, device=device).contiguous(memory_format=fmt)
            autocast = torch.autocast(device, dtype=DTYPES[precision]) if precision in DTYPES else nullcontext()
            with torch.inference_mode(), autocast:
                model(x)
                sync(device)
                start, done = time.perf_counter(), 0
                while done < n:
                    model(x)
                    done += batch
                sync(device)
            rate = done / (time.perf_counter() - start)
            if rate > best:
                best, plan = rate, (batch, channels_last)
    model.to(memory_format=torch.contiguous_format)
    return best, plan


def rise(masks: int) -> px.Pipeline:
    """RISE as in the paper: 7x7 bilinear cells randomly shifted, p = 0.5, ImageNet-mean fill."""
    return px.Pipeline(segmenter={"name": "grid", "cells": 7, "edges": "bilinear", "shift": True},
                       sampler="bernoulli", substrate={"name": "constant", "color": "imagenet_mean"},
                       attributor={"name": "rise", "normalize": "expected"}, n_samples=masks, seed=0)


def pipeline_rate(model: torch.nn.Module, device: str, precision: str, masks: int, plan: tuple[int, bool]) -> float:
    """Masked images per second of one RISE explanation at the bare forward's best plan (after a warm-up)."""
    adapter = px.ModelAdapter(model, mean=IMAGENET[0], std=IMAGENET[1], precision=precision, batch_size=plan[0],
                              channels_last=plan[1], progress=False)
    x = px.data.image("chelsea")
    rise(min(masks, 64)).explain(adapter, x)
    sync(device)
    start = time.perf_counter()
    exp = rise(masks).explain(adapter, x)
    sync(device)
    assert exp.n_queries == masks + 1
    return exp.n_queries / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--masks", type=int, help="RISE masks (default 8000 on cuda, 64 on cpu)")
    parser.add_argument("--precision", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16", "fp16"])
    args = parser.parse_args()
    masks = args.masks or (8000 if args.device == "cuda" else 64)
    torch.manual_seed(0)
    model = torchvision.models.resnet50(weights=None).to(args.device).eval()
    name = torch.cuda.get_device_name() if args.device == "cuda" else f"cpu, {torch.get_num_threads()} threads"
    print(f"ResNet-50 (random weights), 224x224, RISE with {masks} masks on {name}")
    print(f"{'precision':>9} {'bare img/s':>11} {'bare plan':>16} {'pipeline img/s':>15} {'ratio':>6}")
    for precision in args.precision:
        bare, plan = bare_rate(model, args.device, precision, max(masks // 4, 2 * max(BATCHES[args.device])))
        piped = pipeline_rate(model, args.device, precision, masks, plan)
        print(f"{precision:>9} {bare:>11.1f} {plan!s:>16} {piped:>15.1f} {piped / bare:>6.3f}")


if __name__ == "__main__":
    main()
