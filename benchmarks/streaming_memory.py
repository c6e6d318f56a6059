"""Peak memory of a whole experiment over 100 and over 2,000 synthetic images, each in a fresh process:
with streaming datasets the two peaks differ by little (the issue's bound: within 200 MB).

    python benchmarks/streaming_memory.py            # 100 and 2000 images
    python benchmarks/streaming_memory.py --n 100 5000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIG = """# Streaming memory benchmark: synthetic images, the bundled synthetic CNN, saliency, deletion.
dataset: {{kind: synthetic, n: {n}, size: 32}}
model: synthetic_cnn
explainers: {{saliency: saliency}}
metrics: [{{name: deletion, step: 0.25}}]
"""


def child(n: int) -> None:
    """Run the experiment over ``n`` images and print its peak resident memory and time as JSON."""
    import torch

    from perturbx.experiments import run

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / f"stream{n}.yaml"
        config.write_text(CONFIG.format(n=n))
        start = time.perf_counter()
        outcome = run(config, Path(folder) / "out", device="cpu", progress=False)
        seconds = time.perf_counter() - start
    assert outcome.computed == n
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"n": n, "peak_mb": peak, "seconds": seconds}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, nargs="+", default=[100, 2000])
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    results = []
    for n in args.n:
        out = subprocess.run([sys.executable, __file__, "--child", str(n)], capture_output=True, text=True, check=True)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"{'images':>7} {'peak RSS MB':>12} {'seconds':>8}")
    for r in results:
        print(f"{r['n']:>7} {r['peak_mb']:>12.0f} {r['seconds']:>8.1f}")
    print(f"peak difference, largest - smallest: {results[-1]['peak_mb'] - results[0]['peak_mb']:.0f} MB")


if __name__ == "__main__":
    main()
