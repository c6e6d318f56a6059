"""The ``perturbx`` command: ``explain`` a photo with a model and write a PNG; ``evaluate`` an experiment
declared in YAML; ``list`` the components."""

from __future__ import annotations

import argparse
import difflib
import os
import sys
import time
from pathlib import Path
from typing import NoReturn, get_args

import torch

from perturbx import registry
from perturbx.engines.flags import add_engine_flags, engine_override
from perturbx.errors import ConfigError, PerturbxError
from perturbx.pipelines.config import bundled_configs, find_config

DEFAULT_CONFIG = "default"


def pick_device(name: str | None) -> torch.device:
    """Validate ``--device`` before any work; ``auto`` (the default) is CUDA when present, else the CPU."""
    from perturbx.engines.work import pick_device as pick

    return pick(name)


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".pdf", ".svg")


def check_out_file(name: str) -> Path:
    """Validate ``--out`` (a figure to write) before any work: a writable place, a known image suffix."""
    path = Path(name)
    if not name or path.is_dir():
        raise PerturbxError(f"--out: {name!r} is a directory; give a file name such as explanation.png")
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise PerturbxError(f"--out: {name!r} needs one of the suffixes {', '.join(IMAGE_SUFFIXES)}")
    writable_folder("--out", path.parent)
    if path.exists() and not os.access(path, os.W_OK):
        raise PerturbxError(f"--out: {name!r} exists and is not writable")
    return path


def writable_folder(flag: str, folder: Path) -> None:
    """Refuse a folder that is a file, lies below a file, or cannot be created or written."""
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise PerturbxError(f"{flag}: {str(existing)!r} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PerturbxError(f"{flag}: cannot write in {str(existing)!r} (permission denied)")


def explain(args: argparse.Namespace) -> int:
    """``perturbx explain``: explain one photo with a YAML config and write the PNG."""
    from perturbx import data, models, viz
    from perturbx.pipelines.config import load_config

    out = None if args.images is not None else check_out_file(args.out or "explanation.png")
    device = pick_device(args.device)
    if args.model is not None and not args.model.strip():
        raise PerturbxError("--model: empty name; give a model such as efficientnet_lite0 or timm:NAME")
    if args.target is not None and args.target < 0:
        raise PerturbxError(f"--target: class index must be >= 0, got {args.target}")
    config = load_config(find_config(args.config, what="--config"))
    explainer = config.build()
    overrides = {"seed": args.seed, "n_samples": args.n_samples}
    for field, value in overrides.items():
        if value is None:
            continue
        flag = f"--{field.replace('_', '-')}"
        if field not in type(explainer).model_fields:
            raise PerturbxError(f"{flag}: the {explainer.name} explainer has no {field!r}")
        try:
            setattr(explainer, field, value)
        except ConfigError as err:
            raise PerturbxError(f"{flag}: {err}") from None
    if args.tolerance is not None or args.measure is not None:
        set_stop(explainer, args.tolerance, args.measure)
    if args.images is None and (args.engine or args.address or args.workers):
        raise PerturbxError("--engine/--address/--workers: they apply to --images (a folder of images)")
    if args.images is not None:
        from perturbx.experiments.commands import explain_images

        return explain_images(args, explainer, args.model or config.model, config.output, device)
    picture = data.read(args.image)  # a bad image fails here, before the model loads
    model = models.load(args.model if args.model is not None else config.model, device=device)
    image = data.image(picture, size=getattr(model, "input_size", 224))
    adapter = models.ModelAdapter(model, output=config.output, progress=not args.quiet)
    probabilities = models.ModelAdapter(model, progress=False)(image, batch_size=1)[0]
    predicted = int(probabilities.argmax())
    if args.target is not None and args.target >= probabilities.numel():
        raise PerturbxError(
            f"--target: class {args.target} is out of range for a model with {probabilities.numel()} outputs"
        )
    target = predicted if args.target is None else args.target
    start = time.perf_counter()
    exp = explainer.explain(adapter, image, target)
    seconds = time.perf_counter() - start
    label = model.label(target)
    print(f"predicted: {model.label(predicted)} (class {predicted}, p={float(probabilities[predicted]):.3f})")
    if target != predicted:
        print(f"explained: {label} (class {target}, p={float(probabilities[target]):.3f})")
    print(f"method: {exp.method}  time: {seconds:.1f} s  model queries: {exp.n_queries}")
    if exp.converged is not None:
        state = "converged" if bool(exp.converged[0]) else "not converged (max_samples reached)"
        measured = {"range": "max stderr / range", "correlation": "1 - expected correlation",
                    "rank": "1 - expected rank correlation"}[explainer.stop.measure]
        print(f"stopping rule: {state}; error {float(exp.error[0]):.4f} ({measured}, tolerance "
              f"{explainer.stop.tolerance:g}) after {int(exp.queries[0])} queries")
    title = f"{label} (class {target}, p={float(probabilities[target]):.2f})"
    stderr = exp.stderr[0] if exp.converged is not None and exp.stderr is not None else None
    fig = viz.explanation_figure(image, exp.maps[0], title, f"{exp.method}, {exp.n_queries} queries", stderr)
    print(f"wrote {viz.save(fig, out)}")
    return 0


def set_stop(explainer: registry.Component, tolerance: float | None, measure: str | None) -> None:
    """``--tolerance`` / ``--measure``: turn on the explainer's stopping rule or change its tolerance or measure."""
    from perturbx.perturb.stopping import Stop

    flag = "--tolerance" if tolerance is not None else "--measure"
    if "stop" not in type(explainer).model_fields:
        raise PerturbxError(f"{flag}: the {explainer.name} explainer has no stopping rule (only perturbation "
                            "pipelines do)")
    if tolerance is not None and not 0.0 < tolerance < 1.0:
        raise PerturbxError(f"--tolerance: expected a number between 0 and 1 (exclusive), got {tolerance:g}")
    measures = get_args(Stop.model_fields["measure"].annotation)
    if measure is not None and measure not in measures:
        raise PerturbxError(f"--measure: expected one of {', '.join(measures)}, got {measure!r}")
    if tolerance is None and explainer.stop is None:
        raise PerturbxError("--measure: the config has no stopping rule; give --tolerance as well")
    current = explainer.stop.model_dump() if explainer.stop is not None else {}
    changes = {"tolerance": tolerance, "measure": measure}
    explainer.stop = Stop(**{**current, **{k: v for k, v in changes.items() if v is not None}})


def evaluate(args: argparse.Namespace) -> int:
    """``perturbx evaluate``: run (or resume, or dry-run) an experiment YAML and print its summary."""
    from perturbx.experiments import load_experiment, runner, summary

    config = find_config(args.config, "experiments", what="--config")
    experiment = load_experiment(config)
    engine = engine_override(args, experiment.spec.engine.model_dump())
    if args.dry_run:
        from perturbx.experiments.sizing import size

        print(runner.describe(experiment), end="")
        print(f"{len(experiment.explainers)} explainers x {len(experiment.metrics)} metrics; config hash "
              f"{experiment.hash}")
        if not args.no_sizing:
            print(size(experiment, pick_device(args.device)).format())
        return 0
    if args.resume and args.overwrite:
        raise PerturbxError("--resume and --overwrite exclude each other")
    out = Path(args.out) if args.out else Path("runs") / config.stem
    if out.exists() and not out.is_dir():
        raise PerturbxError(f"--out: {str(out)!r} is a file; evaluate writes a folder")
    writable_folder("--out", out)
    try:
        outcome = runner.run(config, out, resume=args.resume, overwrite=args.overwrite, device=args.device or "auto",
                             progress=not args.quiet, engine=engine)
    except KeyboardInterrupt:
        print(
            f"perturbx: interrupted; the finished pairs are in {out / runner.DATABASE}, continue with --resume",
            file=sys.stderr,
        )
        return 130
    print(summary.format_table(outcome.table))
    print(f"pairs computed: {outcome.computed}, already done: {outcome.skipped}")
    if len(outcome.placement) > 1 or engine is not None:
        print("computed by: " + ", ".join(f"{worker} ({n})" for worker, n in outcome.placement.items()))
    print(f"wrote {out / 'summary.csv'}, {out / 'rows.csv'}, {out / 'curves.png'} (results in "
          f"{out / runner.DATABASE})")
    return 0


def list_components(args: argparse.Namespace) -> int:
    """``perturbx list``: every registered component with its paper, parameters and defaults, or the configs."""
    if args.kind == "configs":
        print("configs (perturbx explain --config NAME):")
        for name in bundled_configs():
            print(f"  {name}")
        print("experiments (perturbx evaluate --config NAME):")
        for name in bundled_configs("experiments"):
            print(f"  {name}")
        return 0
    for kind, entries in registry.catalogue(args.kind).items():
        print(f"{kind}s:")
        for name, cls in entries.items():
            doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
            print(f"  {name:<18} {doc}")
            if cls.paper:
                print(f"  {'':<18} from: {cls.paper}")
            for field, info in cls.model_fields.items():
                default = info.get_default(call_default_factory=True)
                default = default.name if isinstance(default, registry.Component) else default
                note = f"  -- {info.description}" if info.description else ""
                print(f"      {field} = {default!r}{note}")
        print()
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse with a close-match suggestion for a misspelt option (``--n-sample`` -> ``--n-samples``)."""

    def error(self, message: str) -> NoReturn:
        if message.startswith("unrecognized arguments:"):
            # subcommands share options (--out): list each once
            options = list(dict.fromkeys(o for action in self._get_subparser_actions() for o in action.option_strings))
            for word in message.split(":", 1)[1].split():
                close = difflib.get_close_matches(word.split("=")[0], options, n=2, cutoff=0.6)
                if close:
                    message += f" (did you mean {' or '.join(close)}?)"
                    break
        super().error(message)

    def _get_subparser_actions(self) -> list[argparse.Action]:
        actions = list(self._actions)
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    actions += sub._actions
        return actions


def parser() -> argparse.ArgumentParser:
    """The argument parser of the ``perturbx`` command and its subcommands."""
    root = _Parser(prog="perturbx", description="Attribution maps for PyTorch image classifiers.")
    sub = root.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("explain", help="explain a photo and write a PNG")
    ex.add_argument("--config", default=DEFAULT_CONFIG, help=f"bundled config or YAML file (default {DEFAULT_CONFIG})")
    ex.add_argument("--image", default="chelsea", help="image path or bundled name (default chelsea)")
    ex.add_argument("--model", help="model name (default: the config's, efficientnet_lite0)")
    ex.add_argument("--target", type=int, help="class index to explain (default: the predicted class)")
    ex.add_argument("--out", help="PNG to write (default explanation.png); with --images, the results folder")
    ex.add_argument("--images", help="a folder or glob of images: one .npz per image in --out, done ones skipped")
    ex.add_argument("--png", action="store_true", help="with --images: also write a PNG per image")
    ex.add_argument("--size", type=int, default=224, help="with --images: resize + centre-crop to this square "
                    "(default 224; 0 keeps each image's size)")
    ex.add_argument("--seed", type=int, help="override the config's seed")
    ex.add_argument("--n-samples", type=int, help="override the config's number of samples")
    ex.add_argument("--tolerance", type=float, help="stop each image once its error measure < this (0..1)")
    ex.add_argument("--measure",
                    help="the stopping rule's measure: max stderr / range (default), or 1 - the expected "
                    "Pearson / Spearman correlation with the converged map")
    ex.add_argument("--device", default="auto", help="auto (CUDA when present, the default), cpu, cuda or cuda:N")
    ex.add_argument("--quiet", action="store_true", help="no progress bar and no tuning notice")
    add_engine_flags(ex)
    ex.set_defaults(run=explain)
    ev = sub.add_parser("evaluate", help="run an experiment YAML: explainers x metrics over a dataset")
    ev.add_argument("--config", required=True, help="bundled experiment name or YAML file (e.g. compare_methods)")
    ev.add_argument("--out", help="output folder (default runs/<config name>)")
    ev.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    ev.add_argument("--overwrite", action="store_true", help="discard the results already in --out")
    ev.add_argument("--dry-run", action="store_true", help="print the explainers and the sizing (queries, time, "
                    "disk) measured on the first image, and stop")
    ev.add_argument("--no-sizing", action="store_true", help="with --dry-run: skip the sizing (loads no model)")
    ev.add_argument("--device", default="auto", help="auto (CUDA when present, the default), cpu, cuda or cuda:N")
    add_engine_flags(ev)
    ev.add_argument("--quiet", action="store_true", help="no progress bar")
    ev.set_defaults(run=evaluate)
    ls = sub.add_parser("list", help="list registered components with their parameters and defaults")
    kinds = (*registry.KINDS, "configs")
    ls.add_argument("kind", nargs="?", choices=kinds, help="only this kind, or the bundled configs")
    ls.set_defaults(run=list_components)
    return root


def one_line(message: str, limit: int = 400) -> str:
    """An error message as one line of at most ``limit`` characters."""
    text = " ".join(message.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def main(argv: list[str] | None = None) -> int:
    """Entry point; user errors exit with code 2 and one line on stderr."""
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except PerturbxError as err:
        print(f"perturbx: error: {one_line(str(err))}", file=sys.stderr)
        return 2
    except OSError as err:  # an output folder that vanished, filled up or turned read-only during the run
        where = f" ({err.filename})" if err.filename else ""
        print(f"perturbx: error: {one_line(f'{err.strerror or err}{where}')}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("perturbx: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
