"""A recogniser in every export format against its SavedModel, in one run: size, speed and accuracy.

Exports an ``airtf-eval`` run directory as a SavedModel and as LiteRT
(float32, float16 weights, dynamic-range int8) and ONNX files, then for
each: the time to write it, its size, the time to load it, the time to
recognise one 10 s clip (median of ``--repeats`` after one warm-up call),
and over the run's test clips (its split.json, labels and audio from the
data folder it was trained on) the largest difference of a clip
probability from the SavedModel's, F1-macro and mAP: the accuracy each
format costs::

    python tools/bench_export.py demo-out/eval/den-add

The ONNX conversion of a VGGish recogniser takes about 16 GB of memory;
``--formats`` leaves it out where that is too much.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

FORMATS = {"savedmodel": (None, None), "litert": ("litert", None), "litert-float16": ("litert", "float16"),
           "litert-dynamic-int8": ("litert", "dynamic-int8"), "onnx": ("onnx", None)}
SUFFIXES = {None: "", "litert": ".tflite", "onnx": ".onnx"}


def write(run_dir, folder, name):
    """Export ``run_dir`` as format ``name`` into ``folder``; return its path and the seconds it took."""
    from airtf.serve import export, portable

    format, quantize = FORMATS[name]
    path = folder / f"{name}{SUFFIXES[format]}"
    started = time.perf_counter()
    if format is None:
        export.export(run_dir, path)
    else:
        portable.write_recognizer(export.Pipeline.from_run(run_dir), path, format, quantize)
    return path, time.perf_counter() - started


def size_mb(path):
    files = [path] if path.is_file() else [item for item in path.rglob("*") if item.is_file()]
    return sum(item.stat().st_size for item in files) / 1e6


def test_clips(run_dir):
    """The run's test clips: (waveforms, labels, class names), read from the data folder it names."""
    from airtf import audio
    from airtf.datasets.openmic import OpenMIC

    config = json.loads((run_dir / "config.json").read_text())
    keys = json.loads((run_dir / "split.json").read_text())["test"]
    openmic = OpenMIC(config["data"])
    waveforms = [audio.read(openmic.audio_path(key)) for key in keys]
    return waveforms, openmic.labels(keys), openmic.classes


def measure(path, waveforms, repeats):
    """Load time, median seconds for the first waveform, and the clip probabilities of all of them."""
    from airtf.serve import export

    started = time.perf_counter()
    model = export.load(path)
    loading = time.perf_counter() - started
    model(waveforms[0])  # warm-up: allocation, first-call tracing
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        model(waveforms[0])
        times.append(time.perf_counter() - started)
    probabilities = np.stack([model(waveform)["probabilities"] for waveform in waveforms])
    return loading, statistics.median(times), probabilities


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path, help="an airtf-eval run directory of the attention classifier")
    parser.add_argument("--formats", nargs="+", choices=tuple(FORMATS), default=list(FORMATS),
                        help="formats besides the SavedModel (default: all)")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls on one clip (default %(default)s)")
    args = parser.parse_args(argv)
    from airtf.classify import metrics

    waveforms, labels, class_names = test_clips(args.run_dir)
    names = ["savedmodel", *[name for name in args.formats if name != "savedmodel"]]
    print(f"{args.run_dir}: {len(waveforms)} test clips; {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.2f}", flush=True)
    header = (f"{'format':<20} {'write s':>8} {'MB':>7} {'load s':>7} {'10 s clip ms':>13} {'vs SavedModel':>14} "
              f"{'max |dp|':>9} {'F1-macro':>9} {'mAP':>6}")
    print(header)
    rows, baseline = {}, None
    with tempfile.TemporaryDirectory(prefix="bench_export.") as scratch:
        for name in names:
            path, writing = write(args.run_dir, Path(scratch), name)
            loading, seconds, probabilities = measure(path, waveforms, args.repeats)
            baseline = baseline or (seconds, probabilities)
            overall = metrics.instrument_scores(labels.y_true, labels.y_mask, probabilities, class_names)["overall"]
            difference = np.abs(probabilities - baseline[1]).max()
            rows[name] = seconds
            print(f"{name:<20} {writing:>8.1f} {size_mb(path):>7.1f} {loading:>7.2f} {seconds * 1e3:>13.1f} "
                  f"{baseline[0] / seconds:>13.2f}x {difference:>9.1e} {overall['f1']:>9.3f} "
                  f"{overall['average_precision']:>6.3f}", flush=True)
    print(f"load average at the end {os.getloadavg()[0]:.2f}; 'vs SavedModel': its 10 s clip time / this format's")
    return 0


if __name__ == "__main__":
    sys.exit(main())
