"""Lay out a full-size OpenMIC-2018 without its audio, to plan the paper's run at the release's scale.

    python tools/release_shaped_openmic.py OUT [--shared ../shared/data/openmic] [--seed 0]

OUT gets the release's real class map and partitions (14,915 training and
5,085 test keys, from the shared reference data) and an openmic-2018.npz of
the release's shapes: X (20000, 10, 128) uint8, Y_true and Y_mask (20000, 20),
sample_key. X and the labels are seeded random numbers, not the release's:
enough for ``airtf-eval --features pca --dry-run`` and
``scripts/reproduce_paper --dry-run`` to count, time and size every step at
full scale, never for scores.
"""

import argparse
import json
import shutil
from pathlib import Path

import numpy as np

from airtf.support.files import write_npz

REPO = Path(__file__).resolve().parents[1]
ANNOTATED = 0.4
"""Share of the (clip, instrument) entries marked annotated, about the release's."""


def parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="the folder to write (must not exist)")
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data" / "openmic",
                        help="the reference OpenMIC files (class map, partitions); default %(default)s")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse(argv)
    args.out.mkdir(parents=True)
    shutil.copy(args.shared / "class-map.json", args.out / "class-map.json")
    shutil.copytree(args.shared / "partitions", args.out / "partitions")
    keys = sorted(key for csv in (args.out / "partitions").glob("*.csv") for key in csv.read_text().split())
    rng = np.random.default_rng(args.seed)
    classes = len(json.loads((args.out / "class-map.json").read_text()))
    write_npz(args.out / "openmic-2018.npz", X=rng.integers(0, 256, (len(keys), 10, 128), dtype=np.uint8),
              Y_true=rng.random((len(keys), classes)).astype(np.float32),
              Y_mask=rng.random((len(keys), classes)) < ANNOTATED, sample_key=np.array(keys))
    print(f"wrote {args.out}: {len(keys)} clips (real keys and partitions; seeded random features and labels)")


if __name__ == "__main__":
    main()
