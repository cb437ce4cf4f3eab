"""Benchmark reading a sharded NSynth TFRecord split: airtf's interleaved reads against one file at a time.

    python tools/bench_nsynth_shards.py [--shards N] [--notes-per-shard M] [--repeats R]

Writes N shards of M NSynth-format notes (4 s of 16 kHz audio each, the
released record layout) into a temporary ``nsynth-valid.tfrecord/`` folder,
then, in this one process, times passes that parse every note and compute its
log-mel examples:

  one file at a time   a Python loop over the shards, each read by its own
                       TFRecordDataset and mapped in order (num_parallel_calls=1)
  airtf                airtf.datasets.nsynth.load: up to 16 shards read at once,
                       records interleaved, parsing and log-mel in parallel

and prints notes per second and the ratio to the loop. The first pass of each
mode is a warm-up (graph tracing); the fastest of the R timed passes is kept.
"""

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_data import measure, print_table  # noqa: E402  (the sibling benchmark's timing and table)

SPLIT = "valid"


def parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shards", type=int, default=8, help="shard files (default %(default)s)")
    parser.add_argument("--notes-per-shard", type=int, default=32, help="notes in each (default %(default)s)")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per mode (default %(default)s)")
    return parser.parse_args(argv)


def write_shards(folder, shards, notes_per_shard):
    """N shard files of notes laid out as NSynth's released records, with seeded noise as audio."""
    import tensorflow as tf

    from airtf.datasets import nsynth

    def feature(values, kind):
        return tf.train.Feature(**{kind: {"int64_list": tf.train.Int64List, "float_list": tf.train.FloatList,
                                          "bytes_list": tf.train.BytesList}[kind](value=values)})

    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    for shard in range(shards):
        with tf.io.TFRecordWriter(str(folder / f"nsynth-{SPLIT}.tfrecord-{shard:05d}-of-{shards:05d}")) as writer:
            for index in range(notes_per_shard):
                audio = (0.1 * rng.standard_normal(nsynth.NOTE_SAMPLES)).astype(np.float32)
                fields = {"pitch": 60, "velocity": 100, "instrument": shard, "instrument_family": 0,
                          "instrument_source": 0, "sample_rate": 16000}
                features = {name: feature([value], "int64_list") for name, value in fields.items()}
                features.update(audio=feature(audio, "float_list"),
                                qualities=feature([0] * len(nsynth.QUALITIES), "int64_list"),
                                note_str=feature([f"bass_synthetic_{shard:03d}-{index:03d}-100".encode()],
                                                 "bytes_list"))
                writer.write(tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString())


def one_file_at_a_time(folder):
    """A pass that reads each shard in turn, parsing and computing log-mel in order; returns the notes."""
    import tensorflow as tf

    from airtf.datasets import nsynth
    from airtf.vggish.audio_converter import LogMelExamples

    frontend, notes = LogMelExamples(), 0
    for shard in nsynth.record_files(folder):
        records = tf.data.TFRecordDataset(str(shard)).map(
            lambda record: frontend(nsynth.parse_record(record, shard)[0]), num_parallel_calls=1)
        notes += sum(1 for _ in records)
    return notes


def airtf_load(root):
    """A pass over airtf's loader (all four examples of each note, to compute the same log-mel)."""
    from airtf.datasets import nsynth

    return sum(1 for _ in nsynth.load(root, SPLIT, examples="all")) // nsynth.EXAMPLES_PER_NOTE


def main(argv=None):
    args = parse(argv)
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        folder = root / f"nsynth-{SPLIT}.tfrecord"
        write_shards(folder, args.shards, args.notes_per_shard)
        results = [measure("one file at a time", lambda: one_file_at_a_time(folder), args.repeats),
                   measure("airtf interleaved", lambda: airtf_load(root), args.repeats)]
    print(f"{args.shards} shards x {args.notes_per_shard} notes; fastest of {args.repeats} passes after a warm-up")
    print_table(results, "notes")


if __name__ == "__main__":
    main()
