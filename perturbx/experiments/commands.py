"""``perturbx explain --images``: the command-line part of folder explanations (kept apart from ``perturbx.cli``)."""

from __future__ import annotations

import argparse

import torch

from perturbx.errors import PerturbxError
from perturbx.explainer import Explainer


def explain_images(args: argparse.Namespace, explainer: Explainer, model_name: str, output: str,
                   device: torch.device) -> int:
    """``perturbx explain --images``: every image explained into ``--out`` (locally or on Ray workers);
    exit 1 when some failed."""
    from perturbx import models
    from perturbx.engines.flags import engine_override
    from perturbx.experiments.folder import explain_folder, find_images, prepare_out

    if args.out is None:
        raise PerturbxError("--out: give the folder the results go to (--images writes one .npz per image)")
    if args.size < 0 or 0 < args.size < 8:
        raise PerturbxError(f"--size: expected 0 (keep) or a side >= 8, got {args.size}")
    size = args.size or None
    files = find_images(args.images)
    prepare_out(args.out, explainer, model_name)
    if args.target is not None and args.target < 0:
        raise PerturbxError(f"--target: class index must be >= 0, got {args.target}")
    engine = engine_override(args, {})
    remote = engine is not None and engine["kind"] == "ray"
    if remote:
        from perturbx.engines.ray_engine import connect
        from perturbx.engines.spec import EngineSpec

        connect(EngineSpec.model_validate(engine))
    model = models.load(model_name, device="cpu" if remote else device)
    adapter = models.ModelAdapter(model, output=output, progress=False)  # the folder run shows its own bar
    if args.target is not None:
        classes = adapter(torch.full((1, 3, size or 224, size or 224), 0.5), batch_size=1).shape[-1]
        if args.target >= classes:
            raise PerturbxError(f"--target: class {args.target} is out of range for a model with {classes} outputs")
    outcome = explain_folder(explainer, model_name if remote else adapter, files, args.out, target=args.target,
                             size=size, png=args.png, progress=not args.quiet, model_name=model_name, engine=engine,
                             device=args.device, output=output)
    print(outcome.summary())
    return 1 if outcome.failed else 0
