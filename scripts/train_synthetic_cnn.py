"""Train the bundled CNN of the synthetic ground-truth benchmark and write its weights.

    python scripts/train_synthetic_cnn.py            # a few minutes on 2 CPU threads

Seeded end to end: the training set is images 0..n-1 of seed 0, the held-out set images of seed 1,
and shuffling, flips and initialisation come from ``--seed``. Weights are stored as float16
(the normalisation statistics stay exact enough; accuracy is measured after the round trip).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from perturbx.data.synthetic import synthetic
from perturbx.models.synthetic_cnn import SyntheticCNN, cast, classifier

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "perturbx" / "models" / "weights" / "synthetic_cnn.pt"


def accuracy(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of correct predictions, in eval mode."""
    model.eval()
    with torch.inference_mode():
        predictions = torch.cat([model(chunk).argmax(1) for chunk in images.split(500)])
    return float((predictions == labels).float().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=8000, help="training images (seed 0)")
    parser.add_argument("--held-out", type=int, default=2000, help="held-out images (seed 1)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=4e-3)
    parser.add_argument("--seed", type=int, default=0, help="initialisation, shuffling and flips")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    start = time.perf_counter()
    train, held_out = synthetic(args.train, seed=0), synthetic(args.held_out, seed=1)
    print(f"data: {args.train} + {args.held_out} images in {time.perf_counter() - start:.1f} s", flush=True)

    model = classifier(SyntheticCNN())
    optimiser = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    steps = args.epochs * (args.train // args.batch)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=args.lr, total_steps=steps, pct_start=0.15)
    generator = torch.Generator().manual_seed(args.seed)
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(args.train, generator=generator)
        total = 0.0
        for batch in order[: args.train // args.batch * args.batch].view(-1, args.batch):
            x = train.images[batch]
            flip = torch.rand(len(batch), generator=generator) < 0.5  # every class shape is left-right symmetric
            x = torch.where(flip[:, None, None, None], x.flip(-1), x)
            loss = F.cross_entropy(model(x), train.labels[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += float(loss.detach()) * len(batch)
        print(
            f"epoch {epoch + 1}: loss {total / (args.train // args.batch * args.batch):.3f}, "
            f"held-out accuracy {accuracy(model, held_out.images, held_out.labels):.3f}, "
            f"{time.perf_counter() - start:.0f} s",
            flush=True,
        )

    state = cast(model.net.state_dict(), torch.float16)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, args.out)
    model.net.load_state_dict(cast(state, torch.float32))
    print(
        f"saved {args.out} ({args.out.stat().st_size / 1024:.0f} KiB, float16); "
        f"train accuracy {accuracy(model, train.images[:4000], train.labels[:4000]):.3f} (first 4000), "
        f"held-out accuracy {accuracy(model, held_out.images, held_out.labels):.3f}; "
        f"{time.perf_counter() - start:.0f} s in all"
    )


if __name__ == "__main__":
    main()
