"""Fine-tune the bundled synthetic CNN with an attribution prior ("right for the right reasons") and
measure, on held-out images, how much input-gradient relevance falls inside the object.

    python scripts/attribution_prior_finetune.py            # about 2-3 minutes on 2 CPU threads

Two copies of ``synthetic_cnn`` are fine-tuned from the bundled weights on the same images, batches
and flips: ``plain`` with cross-entropy alone, ``prior`` with cross-entropy plus ``--weight`` × the
share of the input gradient's magnitude (of the true class's log-probability) that lies outside the
object mask (in the spirit of Ross et al. 2017), on the first ``--masked`` share of the training
images only. The gradient maps come from
perturbx's ``saliency`` explainer with ``create_graph=True``, so the penalty trains the model. Reported
on held-out images (seed 5): accuracy, and relevance mass accuracy (share of |∂ log p/∂x| summed over
channels inside the mask) of saliency and of input × gradient maps, for the bundled model too.
"""

from __future__ import annotations

import argparse
import copy
import time

import torch
import torch.nn.functional as F

import perturbx as px
from perturbx.data.synthetic import synthetic
from perturbx.metrics.localisation import RelevanceMassAccuracy
from perturbx.models import ModelAdapter


def outside_share(model: torch.nn.Module, x: torch.Tensor, labels: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Mean over images of the share of Σ_c |∂ log p_y/∂x_c| outside the mask, differentiable w.r.t. the
    parameters. A share, not a sum: shrinking every gradient would lower a sum without moving any."""
    explainer = px.build("explainer", {"name": "saliency", "reduce": "abs_sum", "create_graph": True})
    adapter = ModelAdapter(model, output="log_probability", batch_size=len(x), channels_last=False)
    maps = explainer.explain(adapter, x, labels).maps  # [B,1,H,W], in autograd's graph
    return ((maps * ~masks).flatten(1).sum(1) / maps.flatten(1).sum(1).clamp_min(1e-12)).mean()


def evaluate(model: torch.nn.Module, data: object) -> dict[str, float]:
    """Held-out accuracy, and relevance mass accuracy of gradient maps on correctly classified images."""
    model.eval()
    with torch.inference_mode():
        correct = model(data.images).argmax(1) == data.labels
    x, labels, masks = data.images[correct], data.labels[correct], data.masks[correct]
    adapter = ModelAdapter(model, output="log_probability", batch_size=200, channels_last=False)
    metric = RelevanceMassAccuracy(relevance="absolute")
    row = {"accuracy": float(correct.float().mean())}
    for name, reduce in (("saliency", "abs_sum"), ("input_x_gradient", "abs_sum")):
        maps = px.build("explainer", {"name": name, "reduce": reduce}).explain(adapter, x, labels).maps
        row[name] = sum(metric.value(m[0].double(), r[0]) for m, r in zip(maps, masks)) / len(maps)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=1024, help="fine-tuning images (seed 4)")
    parser.add_argument("--held-out", type=int, default=600, help="held-out images (seed 5)")
    parser.add_argument("--masked", type=float, default=0.5, help="share of training images with a mask")
    parser.add_argument("--weight", type=float, default=0.25, help="weight of the outside-the-mask penalty")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()

    train, held_out = synthetic(args.train, seed=4), synthetic(args.held_out, seed=5)
    masked = torch.arange(args.train) < int(args.masked * args.train)
    bundled = px.models.load("synthetic_cnn")
    models = {"plain": copy.deepcopy(bundled), "prior": copy.deepcopy(bundled)}
    optimisers = {k: torch.optim.AdamW(m.parameters(), lr=args.lr, weight_decay=1e-4) for k, m in models.items()}
    generator = torch.Generator().manual_seed(args.seed)
    for epoch in range(args.epochs):
        order = torch.randperm(args.train, generator=generator)
        penalties = []
        for batch in order[: args.train // args.batch * args.batch].view(-1, args.batch):
            flip = torch.rand(len(batch), generator=generator) < 0.5  # the shapes are left-right symmetric
            x = torch.where(flip[:, None, None, None], train.images[batch].flip(-1), train.images[batch])
            masks = torch.where(flip[:, None, None, None], train.masks[batch].flip(-1), train.masks[batch])
            labels, with_mask = train.labels[batch], masked[batch]
            for name, model in models.items():
                model.train()
                loss = F.cross_entropy(model(x), labels)
                if name == "prior" and with_mask.any():
                    penalty = outside_share(model, x[with_mask], labels[with_mask], masks[with_mask])
                    penalties.append(float(penalty.detach()))
                    loss = loss + args.weight * penalty
                optimisers[name].zero_grad()
                loss.backward()
                optimisers[name].step()
        print(
            f"epoch {epoch + 1}: mean share outside the mask (prior, training) {sum(penalties) / len(penalties):.3f}, "
            f"{time.perf_counter() - start:.0f} s",
            flush=True,
        )

    print(
        f"held-out seed 5, {args.held_out} images; relevance mass accuracy of |gradient| maps on the "
        "correctly classified ones (share inside the object mask)"
    )
    print(f"{'model':10s} {'accuracy':>9s} {'saliency':>9s} {'input×grad':>11s}")
    for name, model in {"bundled": bundled, **models}.items():
        row = evaluate(model, held_out)
        print(f"{name:10s} {row['accuracy']:9.3f} {row['saliency']:9.3f} {row['input_x_gradient']:11.3f}")
    print(f"mask area {float(held_out.masks.float().mean()):.3f}; {time.perf_counter() - start:.0f} s in all")


if __name__ == "__main__":
    main()
