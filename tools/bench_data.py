"""Benchmark the tf.data path from OGG files to log-mel examples against a plain Python loop.

    python tools/bench_data.py [--files N] [--seconds S] [--repeats R] [--resampler resampy|soxr]

Writes N deterministic S-second 44.1 kHz stereo OGG/Vorbis files (the corpus
of bench_extract.py), then, in this one process, times passes over all files:

  python loop     for each file: airtf.audio.read, then the log-mel front end
  tf.data, 1      airtf.datasets.pipeline.log_mel_dataset with num_parallel_calls=1
  tf.data, 2      the same with num_parallel_calls=2

and prints examples per second and the ratio to the loop. The first pass of
each mode is a warm-up (numba compilation, graph tracing); the fastest of the
R timed passes is kept.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_extract import write_corpus  # noqa: E402  (the sibling benchmark's corpus)


def parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=16, help="audio files to generate (default %(default)s)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each file (default %(default)s)")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per mode (default %(default)s)")
    parser.add_argument("--resampler", choices=("resampy", "soxr"), default="resampy")
    return parser.parse_args(argv)


def python_loop(paths, resampler):
    """A pass that decodes and frames each file in turn; returns the number of examples."""
    from airtf import audio, vggish

    return sum(len(vggish.waveform_to_examples(audio.read(path, resampler=resampler))) for path in paths)


def tf_data(paths, resampler, parallel):
    """A pass over airtf's tf.data pipeline; returns the number of examples."""
    from airtf.datasets import pipeline

    dataset = pipeline.log_mel_dataset(paths, resampler=resampler, num_parallel_calls=parallel)
    return sum(int(examples.shape[0]) for examples in dataset)


def measure(name, work, repeats):
    """(name, examples, seconds) of the fastest timed pass after a warm-up pass."""
    examples = work()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return name, examples, min(times)


def main(argv=None):
    args = parse(argv)
    with tempfile.TemporaryDirectory() as folder:
        paths = write_corpus(Path(folder), args.files, args.seconds)
        results = [
            measure("python loop", lambda: python_loop(paths, args.resampler), args.repeats),
            measure("tf.data, 1 call", lambda: tf_data(paths, args.resampler, 1), args.repeats),
            measure("tf.data, 2 calls", lambda: tf_data(paths, args.resampler, 2), args.repeats),
        ]
    print(f"{args.files} files x {args.seconds:g} s, 44.1 kHz stereo OGG/Vorbis -> log-mel examples; "
          f"resampler {args.resampler}; fastest of {args.repeats} passes")
    print_table(results, "examples")


def print_table(results, unit):
    """The (name, count, seconds) results as a table, each rate against the first one's."""
    baseline = results[0][1] / results[0][2]
    print(f"{'path':<20}{unit:>9}{'wall s':>9}{unit + '/s':>12}{'vs first':>10}")
    for name, count, seconds in results:
        rate = count / seconds
        print(f"{name:<20}{count:>9}{seconds:>9.2f}{rate:>12.1f}{rate / baseline:>9.2f}x")


if __name__ == "__main__":
    main()
