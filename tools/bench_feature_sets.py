"""Benchmark stage two's VGGish features: the feature engine against the data set's tf.data log-mel path.

    python tools/bench_feature_sets.py [--clips N] [--repeats R]

Renders a demo OpenMIC-2018 of N clips (10 s each), then, in this one
process, computes the raw embeddings of a random VGGish for every clip:

  tf.data path   OpenMIC.log_mel (tf.data: decode, resample, log-mel, fitted
                 to 10 examples) in batches of 16 clips into the backbone,
                 as the feature sets did before the engine
  engine         airtf.features.engine.file_features: the Extractor of
                 airtf-extract (streamed, batched across clips) and the array
                 cache, as the feature sets compute now

Each timed pass starts from an empty cache; the first pass of each mode is a
warm-up (tracing), the fastest of R timed passes is kept. Prints clips per
second, the engine's ratio to the tf.data path, and the largest difference
between the two paths' embeddings.
"""

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_data import measure  # noqa: E402  (the sibling benchmark's timing: warm-up, then the fastest pass)


def parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=48, help="demo clips (default %(default)s)")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per mode (default %(default)s)")
    return parser.parse_args(argv)


def tf_data_path(dataset, keys, backbone):
    """The embeddings through the data set's tf.data log-mel pipeline and batched backbone calls."""
    import numpy as np

    batches = dataset.log_mel(keys).map(lambda examples, *labels: examples).batch(16)
    return np.concatenate([backbone.predict_on_batch(batch.numpy().reshape(-1, 96, 64)).reshape(len(batch), 10, -1)
                           for batch in batches])


def engine_path(dataset, keys, backbone, cache):
    """The embeddings through the feature engine, into an empty cache folder."""
    from airtf.features import engine, extract

    paths = [dataset.audio_path(key) for key in keys]
    return engine.file_features(paths, lambda: extract.Extractor("embedding", backbone), cache, {"bench": 1}, 10,
                                (128,))


def main(argv=None):
    args = parse(argv)
    import os

    import numpy as np

    from airtf import vggish
    from airtf.datasets.openmic import OpenMIC
    from airtf.demo import sets as demo

    with tempfile.TemporaryDirectory(prefix="airtf-bench-") as folder:
        folder = Path(folder)
        demo.render_openmic(folder / "openmic", clips=args.clips, seed=3)
        dataset = OpenMIC(folder / "openmic")
        keys = list(dataset.labels().sample_key)
        backbone = vggish.from_preset("random", seed=0)
        passes = iter(range(10 ** 6))
        _, baseline, baseline_seconds = measure("tf.data path", lambda: tf_data_path(dataset, keys, backbone),
                                                args.repeats)
        _, ours, seconds = measure("engine", lambda: engine_path(dataset, keys, backbone,
                                                                folder / f"cache{next(passes)}"), args.repeats)
        print(f"{len(keys)} clips of 10 s, random VGGish; load average {os.getloadavg()[0]:.2f}")
        print(f"tf.data path  {len(keys) / baseline_seconds:7.1f} clips/s  ({baseline_seconds:.2f} s)")
        print(f"engine        {len(keys) / seconds:7.1f} clips/s  ({seconds:.2f} s)  "
              f"{baseline_seconds / seconds:.2f}x the tf.data path")
        print(f"largest difference between the two: {np.abs(ours - baseline).max():.3g}")


if __name__ == "__main__":
    main()
