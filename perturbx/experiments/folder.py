"""Explain every image of a folder (or glob): one ``.npz`` per image (and a PNG when asked), written
atomically as each finishes, so a rerun skips what is done; an unreadable image is reported and skipped."""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from torch import nn
from tqdm.auto import tqdm

from perturbx.datasets import IMAGE_SUFFIXES
from perturbx.engines.spec import EngineSpec
from perturbx.engines.work import pick_device
from perturbx.errors import PerturbxError
from perturbx.explainer import Explainer
from perturbx.models.adapter import ModelAdapter, OutputMode, as_adapter

RUN_FILE = "explainer.yaml"  # the explainer a folder's results belong to


@dataclass
class FolderOutcome:
    """Images explained now, already done, and those that failed with the reason (in file order)."""

    out: Path
    written: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        """One line: counts, then the failed images by name."""
        line = f"{len(self.written)} explained, {len(self.skipped)} already done, {len(self.failed)} failed"
        if self.failed:
            line += " (" + "; ".join(f"{name}: {why}" for name, why in self.failed) + ")"
        return f"{line}; results in {self.out}"


def find_images(pattern: str | Path) -> list[Path]:
    """The image files of a folder, or those a glob matches (``**`` recursive), sorted; names must be unique."""
    pattern = str(pattern)
    if os.path.isdir(pattern):
        files = [p for p in Path(pattern).iterdir()]
    else:
        files = [Path(p) for p in glob.glob(os.path.expanduser(pattern), recursive=True)]
    files = sorted(p for p in files if p.suffix.lower() in IMAGE_SUFFIXES and not p.is_dir())
    if not files:
        raise PerturbxError(f"--images: no images ({', '.join(IMAGE_SUFFIXES)}) in or matching {pattern!r}")
    stems: dict[str, Path] = {}
    for path in files:
        if path.stem in stems:
            raise PerturbxError(f"--images: {str(stems[path.stem])!r} and {str(path)!r} would write one result "
                                f"{path.stem}.npz; rename one")
        stems[path.stem] = path
    return files


def prepare_out(out: str | Path, explainer: Explainer, model_name: str) -> Path:
    """Create ``out`` (checked before any work) and pin it to this explainer and model: results of another
    explainer there are refused rather than mixed."""
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise PerturbxError(f"--out: cannot create the folder {str(out)!r} ({err.strerror})") from None
    if not os.access(out, os.W_OK):
        raise PerturbxError(f"--out: the folder {str(out)!r} is not writable")
    record = yaml.safe_dump({"model": model_name, "explainer": explainer.spec()}, sort_keys=True)
    stored = out / RUN_FILE
    if stored.exists() and stored.read_text() != record:
        raise PerturbxError(f"--out: {str(out)!r} holds results of another explainer or model ({RUN_FILE}); use "
                            "another --out")
    stored.write_text(record)
    return out


@dataclass
class ImageResult:
    """One image's arrays for its ``.npz`` (``fields``), or why it failed (``reason``)."""

    path: Path
    fields: dict[str, np.ndarray] | None = None
    reason: str = ""


def explain_image(explainer: Explainer, adapter: ModelAdapter, path: Path, target: int | None,
                  size: int | None) -> ImageResult:
    """Read and explain one image; a file that cannot be read or explained becomes a failure with its reason."""
    from perturbx import data

    try:
        image = data.image(path, size)
        exp = explainer.explain(adapter, image, target)
    except PerturbxError as err:
        return ImageResult(path, reason=str(err)[:200])
    except (OSError, ValueError, SyntaxError) as err:  # what PIL raises for a broken file
        return ImageResult(path, reason=f"unreadable image ({type(err).__name__})")
    fields = {"map": exp.maps[0, 0].numpy(), "target": np.int64(exp.targets[0] if exp.targets is not None else -1),
              "queries": np.int64(exp.n_queries), "method": np.str_(exp.method),
              "precision": np.str_(adapter.precision)}
    if isinstance(exp.meta.get("stderr"), torch.Tensor):
        fields["stderr"] = exp.meta["stderr"][0].squeeze().numpy()
    return ImageResult(path, fields)


def explain_folder(
    explainer: Explainer,
    model: nn.Module | ModelAdapter | str,
    images: Sequence[str | Path] | str | Path,
    out: str | Path,
    target: int | None = None,
    size: int | None = 224,
    png: bool = False,
    progress: bool = True,
    model_name: str | None = None,
    engine: EngineSpec | dict[str, Any] | None = None,
    device: str | None = "auto",
    output: OutputMode = "probability",
) -> FolderOutcome:
    """Explain each image (a folder, a glob or a list of files) for ``target`` (default: the predicted
    class) into ``out/<stem>.npz``: ``map [H,W]``, ``target``, ``queries``, ``method``, ``precision`` and
    ``stderr`` where the method reports one; plus ``<stem>.png`` with ``png``. ``model`` is a module, an
    adapter or a model name (loaded on ``device`` with ``output`` scores); the Ray engine
    (``engine={"kind": "ray", ...}``) needs a name, which each worker loads. Only this process writes into
    ``out``."""
    files = find_images(images) if isinstance(images, (str, Path)) else [Path(p) for p in images]
    spec = EngineSpec.model_validate(engine or {})
    if spec.kind == "ray" and not isinstance(model, str):
        raise PerturbxError("engine: the Ray engine loads the model on each worker; pass the model's name")
    name = model if isinstance(model, str) else model_name or type(getattr(model, "model", model)).__name__
    out = prepare_out(out, explainer, name)
    todo = [path for path in files if not (out / f"{path.stem}.npz").exists()]
    outcome = FolderOutcome(out, skipped=[path.name for path in files if path not in todo])
    if spec.kind == "ray":
        from perturbx.engines.ray_engine import run_ray_images

        results = run_ray_images(spec, explainer.spec(), (model, output), device, [str(p) for p in todo], target,
                                 size)
    else:
        from perturbx import models

        if isinstance(model, str):
            model = ModelAdapter(models.load(model, device=pick_device(device)), output=output, progress=False)
        adapter = as_adapter(model)
        results = ([explain_image(explainer, adapter, path, target, size)] for path in todo)
    with tqdm(total=len(todo), disable=not progress, desc="images", unit="image") as bar:
        for chunk in results:
            for result in chunk:
                _write(result, out, size, png, outcome)
                bar.update()
    order = {p.name: k for k, p in enumerate(files)}
    outcome.written.sort(key=order.get)
    outcome.failed.sort(key=lambda f: order[f[0]])
    return outcome


def _write(result: ImageResult, out: Path, size: int | None, png: bool, outcome: FolderOutcome) -> None:
    """Write one result atomically (a killed run never leaves a half-written file), and its PNG when asked."""
    from perturbx import data, viz

    path = Path(result.path)
    if result.fields is None:
        outcome.failed.append((path.name, result.reason))
        return
    fields = result.fields
    if png:
        explained = int(fields["target"])
        title = f"class {explained}" if explained >= 0 else "target"
        figure = viz.explanation_figure(data.image(path, size), torch.from_numpy(fields["map"])[None],
                                        title, f"{fields['method']}, {int(fields['queries'])} queries")
        viz.save(figure, out / f"{path.stem}.png")
    partial = out / f"{path.stem}.partial.npz"
    np.savez_compressed(partial, **fields)
    os.replace(partial, out / f"{path.stem}.npz")
    outcome.written.append(path.name)
