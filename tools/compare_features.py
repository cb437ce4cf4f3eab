"""Compare features written by airtf-extract with features released in the same layout.

    python tools/compare_features.py RELEASED_DIR OURS_DIR

For each OURS_DIR/**/NAME.json with a RELEASED_DIR/**/NAME.json, prints the
example counts, whether the time points agree, and how far the values are
apart (for PCA features: in quantisation steps of 1/255).
"""

import argparse
import json
from pathlib import Path

import numpy as np


def load(path):
    data = json.loads(Path(path).read_text())
    return data["time_points"], np.asarray(data["features"], dtype=np.float64)


def compare(released_path, ours_path):
    """One line comparing two feature files."""
    released_times, released = load(released_path)
    our_times, ours = load(ours_path)
    line = (f"{ours_path.stem}: {len(our_times)} examples (released {len(released_times)}), "
            f"time points {'equal' if our_times == released_times else 'DIFFER'}")
    if ours.shape == released.shape:
        difference = np.abs(ours - released)
        line += (f", values equal in {np.mean(difference == 0):.1%} of entries, "
                 f"mean |difference| {difference.mean():.2f}, max {difference.max():.0f}")
    return line


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("released", type=Path)
    parser.add_argument("ours", type=Path)
    args = parser.parse_args()
    released = {path.stem: path for path in args.released.rglob("*.json")}
    for path in sorted(args.ours.rglob("*.json")):
        if path.stem in released:
            print(compare(released[path.stem], path))


if __name__ == "__main__":
    main()
