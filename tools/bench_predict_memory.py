"""Peak memory of airtf-predict (and airtf-extract) against the length of the audio.

Exports two untrained recognisers (log-mel features, and a random VGGish's
embeddings), writes test audio of each length (16 kHz WAV: tones in noise),
then runs ``airtf-predict FILE --model EXPORT --json`` once per export and
length, and ``airtf-extract FILE --output logmel --format npz`` once per
length, each in its own process, and reads that process's peak resident
memory (``ru_maxrss``). The baseline is the shortest file of the same
command in the same run; both commands stream the audio, so the ratio of the
longest to it should stay within --limit (1.15)::

    python tools/bench_predict_memory.py                # 1 minute, 1, 6 and 24 hours (about an hour; 7 GB of disk)
    python tools/bench_predict_memory.py --minutes 1,5  # quicker
    python tools/bench_predict_memory.py --minutes 1,60 --formats litert onnx   # the device files instead

``--formats`` chooses what airtf-predict runs: the SavedModel (default), or
the LiteRT and ONNX files of ``airtf-export --format`` (the ONNX conversion
of the VGGish recogniser takes about 16 GB of memory).

Exit status 1 when a ratio exceeds --limit.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000
KINDS = ("logmel", "random")
FORMATS = ("savedmodel", "litert", "onnx")
MEASURE = """
import resource, subprocess, sys
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)
"""


def make_run(path, kind):
    """An airtf-eval run directory with an untrained classifier over the feature set ``kind``."""
    import keras

    from airtf import params
    from airtf.classify import attention
    from airtf.demo.sets import OPENMIC_CLASSES
    from airtf.features import feature_sets
    from airtf.runs import layout

    keras.utils.set_random_seed(0)
    size = params.NUM_MEL_BINS if kind == "logmel" else params.EMBEDDING_SIZE
    classifier = attention.AttentionClassifier(num_classes=len(OPENMIC_CLASSES))
    classifier.build((None, None, size))
    path.mkdir(parents=True)
    classifier.save(path / layout.MODEL_NAME)
    (path / layout.FEATURE_SPEC_NAME).write_text(json.dumps(feature_sets.parse(kind).spec))
    (path / layout.CLASSES_NAME).write_text(json.dumps(list(OPENMIC_CLASSES)))
    return path


def write_audio(path, minutes, block_seconds=60):
    """``minutes`` of 16 kHz 16-bit mono audio, written a block at a time."""
    import soundfile

    rng = np.random.default_rng(int(minutes * 1000))
    with soundfile.SoundFile(path, "w", SAMPLE_RATE, 1, "PCM_16") as sound:
        for start in range(0, int(minutes * 60), block_seconds):
            seconds = min(block_seconds, minutes * 60 - start)
            time_axis = start + np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
            tone = 0.2 * np.sin(2 * np.pi * rng.uniform(100, 2000) * time_axis)
            sound.write((tone + 0.05 * rng.standard_normal(len(time_axis))).astype(np.float32))
    return path


def write_export(run_dir, path, format):
    """``run_dir``'s recogniser as ``format``: a SavedModel folder at ``path``, or a file beside it."""
    from airtf.serve import export, portable

    if format == "savedmodel":
        return export.export(run_dir, path).path
    path = path.with_suffix(portable.FORMATS[format])
    portable.write_recognizer(export.Pipeline.from_run(run_dir), path, format)
    return path


def peak_memory(command):
    """(peak RSS of ``command`` in MiB, wall seconds), run in a process of its own."""
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", MEASURE, *command], capture_output=True, text=True, check=True)
    peak_kib, code = map(int, result.stdout.split())
    if code:
        raise SystemExit(f"{' '.join(command)} exited with {code}")
    return peak_kib / 1024, time.perf_counter() - started


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", default="1,60,360,1440",
                        help="audio lengths, comma-separated (default %(default)s)")
    parser.add_argument("--limit", type=float, default=1.15, help="largest accepted ratio (default %(default)s)")
    parser.add_argument("--scratch", help="folder for the audio and outputs (default: a temporary folder)")
    parser.add_argument("--formats", nargs="+", choices=FORMATS, default=["savedmodel"],
                        help="the exports airtf-predict runs (default %(default)s)")
    args = parser.parse_args(argv)
    minutes = sorted(float(value) for value in args.minutes.split(","))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    predict = Path(sys.executable).with_name("airtf-predict")
    worst = 0.0
    with tempfile.TemporaryDirectory(dir=args.scratch) as scratch:
        scratch = Path(scratch)
        runs = {kind: make_run(scratch / kind / "run", kind) for kind in KINDS}
        exports = {f"{kind} {'export' if format == 'savedmodel' else format}":
                   write_export(run, scratch / kind / format, format)
                   for kind, run in runs.items() for format in args.formats}
        audio = {length: write_audio(scratch / f"{length:g}min.wav", length) for length in minutes}
        commands = {f"predict, {name}": [str(predict), "{audio}", "--model", str(model), "--json", "--quiet"]
                    for name, model in exports.items()}
        commands["extract --output logmel"] = [str(predict.with_name("airtf-extract")), "{audio}", "--out",
                                               str(scratch / "features"), "--output", "logmel", "--format", "npz",
                                               "--overwrite", "--quiet"]
        print(f"{'command':<28} {'audio':>8} {'peak MiB':>9} {'seconds':>8} "
              f"{'vs ' + format(minutes[0], 'g') + ' min':>9}")
        for name, command in commands.items():
            baseline = None
            for length, path in audio.items():
                peak, seconds = peak_memory([part.format(audio=path) for part in command])
                baseline = baseline or peak
                worst = max(worst, peak / baseline)
                print(f"{name:<28} {length:>6g} m {peak:>9.0f} {seconds:>8.1f} {peak / baseline:>8.2f}x",
                      flush=True)
                (scratch / "features" / "logmel" / f"{path.stem}.npz").unlink(missing_ok=True)
    print(f"largest ratio {worst:.2f} (limit {args.limit})")
    return 1 if worst > args.limit else 0


if __name__ == "__main__":
    raise SystemExit(main())
