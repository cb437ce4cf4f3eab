"""How long each command takes to answer --help, against importing TensorFlow, in the same run.

The commands parse their arguments before they import TensorFlow, so
``--help`` (and a mistyped option) answers at once. Each command runs in a
process of its own, ``--repeats`` times; the fastest run counts::

    python tools/bench_cli_startup.py

Exit status 1 when ``airtf-extract --help`` takes a third of ``import
tensorflow`` or more.
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = ("extract", "eval", "export", "predict", "data", "weights", "compare", "pretrain")


def fastest(command, repeats):
    """The fastest wall time of ``command`` over ``repeats`` runs, in seconds."""
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment)
        times.append(time.perf_counter() - started)
    return min(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each command (default %(default)s)")
    args = parser.parse_args(argv)
    bin_dir = Path(sys.executable).parent
    baseline = fastest([sys.executable, "-c", "import tensorflow"], args.repeats)
    print(f"{'command':<28} {'seconds':>8} {'vs import tensorflow':>21}")
    print(f"{'python -c import tensorflow':<28} {baseline:>8.2f} {1.0:>20.2f}x")
    ratios = {}
    for name in COMMANDS:
        seconds = fastest([str(bin_dir / f"airtf-{name}"), "--help"], args.repeats)
        ratios[name] = seconds / baseline
        print(f"{f'airtf-{name} --help':<28} {seconds:>8.2f} {ratios[name]:>20.2f}x", flush=True)
    return 0 if ratios["extract"] < 1 / 3 else 1


if __name__ == "__main__":
    raise SystemExit(main())
