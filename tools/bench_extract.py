"""Benchmark waveform -> VGGish embedding throughput: airtf's batched Extractor vs per-file.

    python tools/bench_extract.py [--files N] [--seconds S] [--batch-size B] [--repeats R] [--workdir DIR]

Writes N deterministic S-second 44.1 kHz stereo OGG/Vorbis files and serves
each mode from its own child process (so peak memory is per mode and no
TensorFlow state is shared). Each child first warms up on one file, so that
TensorFlow import, model build and tracing are not timed; then the parent asks
the children in turn for a timed pass over all files, R rounds, and keeps
each mode's fastest pass (interleaving spreads other load on the machine over
all modes alike):

  per-file      the official way: soundfile, channel mean, resampy, the numpy
                front end (tests/reference_frontend.py), one model call per file
  batched       airtf.features.extract.Extractor("embedding"), exact resampler (resampy)
  batched-soxr  the same with resampler="soxr", and its deviation from resampy
  model-only    the compiled model alone on random batches of B, as many
                examples as the files give (0.96 s of audio each): the ceiling
  beam-direct   airtf-extract --runner direct: the Beam pipeline on the
                DirectRunner with 2 worker processes (where apache-beam is
                installed: scripts/test-beam's environment). Each pass is a
                whole job, worker start-up included; a job over one file
                per worker, timed apart, is that process overhead

Throughput is in audio seconds per wall-clock second; weights are random
(speed does not depend on their values).

    python tools/bench_extract.py --processes [--files N] [--repeats R] [--pca-params FILE]

times whole processes instead, start-up included, with a checkpoint in the
official V1 format (written by tests/tf1_vggish.py): ``airtf-extract --output
pca --weights vggish_model.ckpt`` over the N files against
tools/official_extract.py, the official code's per-file path as a process
(a Saver restoring the checkpoint into a TF1 graph, then per file soundfile,
resampy, the numpy front end, one session call, the numpy PCA); its first
airtf process, which writes the checkpoint's converted copy
(airtf/vggish/converted.py), is shown apart. Then the start-up: one file
through airtf-extract with that checkpoint, with ``--weights random``, with
``--output logmel`` (no model), the official process on one file, and
``python -c "import tensorflow"``. Commands take turns, R rounds, fastest
kept; CPU seconds are the process's user + system time.

    python tools/bench_extract.py --processes --short-files [--repeats R]

is the short-file case end to end: 1,500 files of 1.5 s, 44.1 kHz stereo
16-bit WAV, in 15 folders (as sound-event and note collections come), where
the per-file costs dominate.
"""

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from airtf import params

REPOSITORY = Path(__file__).resolve().parents[1]
MODES = ("per-file", "batched", "batched-soxr", "model-only",
         *(("beam-direct",) if importlib.util.find_spec("apache_beam") else ()))
BEAM_WORKER_COUNT = 2
BEAM_WORKERS = ["--direct_num_workers", str(BEAM_WORKER_COUNT), "--direct_running_mode", "multi_processing"]
SAMPLE_RATE = 44100
PROTOCOL_PREFIX = "bench: "
EXAMPLE_SECONDS = 0.96


def parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=24, help="audio files to generate (default %(default)s)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each file (default %(default)s)")
    parser.add_argument("--batch-size", type=int, default=params.EXTRACT_BATCH_SIZE,
                        help="examples per model call (default %(default)s, airtf-extract's)")
    parser.add_argument("--repeats", type=int, default=5, help="timed passes per mode, fastest kept (default %(default)s)")
    parser.add_argument("--workdir", type=Path, help="folder for the audio and outputs (default: a temporary one)")
    parser.add_argument("--processes", action="store_true",
                        help="time whole processes with an official-format checkpoint (see above)")
    parser.add_argument("--short-files", action="store_true",
                        help="with --processes: 1,500 x 1.5 s WAV files in 15 folders instead of --files x --seconds OGG")
    parser.add_argument("--pca-params", type=Path, default=REPOSITORY.parent / "shared/data/vggish/vggish_pca_params.npz",
                        help="the official PCA parameters, for --processes (default: ../shared/data/vggish's)")
    parser.add_argument("--mode", choices=MODES, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# ---------------------------------------------------------------- the corpus

def clip(index, seconds):
    """A deterministic stereo clip: a harmonic tone, a second sine and noise."""
    rng = np.random.default_rng(index)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    f0 = 110.0 * 2 ** ((index % 24) / 12)
    tone = sum(np.sin(2 * np.pi * h * f0 * t + rng.uniform(0, 2 * np.pi)) / h for h in range(1, 5))
    other = np.sin(2 * np.pi * rng.uniform(300, 3000) * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 0.5 * t))
    noise = rng.standard_normal((len(t), 2))
    stereo = np.stack([0.3 * tone + 0.1 * other, 0.2 * tone + 0.2 * other], axis=1) + 0.02 * noise
    return 0.8 * stereo / np.abs(stereo).max()


SHORT_FILES, SHORT_SECONDS, SHORT_FOLDERS = 1500, 1.5, 15


def write_corpus(folder, files, seconds, folders=1, wav=False):
    """Write the benchmark's files (OGG/Vorbis, or 16-bit WAV) into ``folders`` subfolders of ``folder``.

    Returns their paths; names are unique over the folders.
    """
    import soundfile

    paths = []
    for index in range(files):
        path = folder / (f"folder{index * folders // files:02d}" if folders > 1 else "") / \
            f"clip{index:04d}.{'wav' if wav else 'ogg'}"
        path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(path, clip(index, seconds), SAMPLE_RATE, **({"subtype": "PCM_16"} if wav else
                                                                     {"format": "OGG", "subtype": "VORBIS"}))
        paths.append(path)
    return paths


def audio_seconds(paths):
    """Total duration of the files, in seconds."""
    import soundfile

    return sum(soundfile.info(path).duration for path in paths)


# ------------------------------------------------------- modes (in a child)

def compiled_model():
    """A random VGGish and a compiled function examples -> embeddings (numpy)."""
    import tensorflow as tf

    from airtf import params, vggish

    backbone = vggish.from_preset("random", seed=0)
    spec = tf.TensorSpec((None, params.EXAMPLE_FRAMES, params.NUM_MEL_BINS), tf.float32)
    infer = tf.function(lambda examples: backbone(examples, training=False), input_signature=[spec])
    return backbone, lambda examples: infer(examples).numpy()


def per_file(paths, args):
    """The official pipeline, one file at a time; returns (audio seconds, a pass over all files)."""
    import resampy
    import soundfile

    sys.path.insert(0, str(REPOSITORY / "tests"))
    import reference_frontend

    _, infer = compiled_model()

    def embed(path):
        samples, rate = soundfile.read(path)
        waveform = resampy.resample(samples.mean(axis=1), rate, 16000)
        return infer(reference_frontend.examples(waveform).astype(np.float32))

    embed(paths[0])
    return audio_seconds(paths), lambda: [embed(path) for path in paths]


def batched(paths, args, resampler="resampy"):
    """airtf's Extractor; returns (audio seconds, a pass over all files)."""
    from airtf.features.extract import Extractor

    backbone, _ = compiled_model()
    extractor = Extractor("embedding", backbone, batch_size=args.batch_size, resampler=resampler)
    out = args.workdir / "out" / args.mode
    extractor.run([(paths[0], out / "warm-up.json")])
    jobs = [(path, out / f"{path.stem}.json") for path in paths]
    return audio_seconds(paths), lambda: extractor.run(jobs)


def batched_soxr(paths, args):
    return batched(paths, args, resampler="soxr")


def model_only(paths, args):
    """The model alone on about as many examples as the files give.

    Returns (audio seconds those examples cover, a pass over them).
    """
    _, infer = compiled_model()
    batch = np.random.default_rng(0).standard_normal((args.batch_size, 96, 64)).astype(np.float32)
    infer(batch)
    calls = max(1, round(audio_seconds(paths) / EXAMPLE_SECONDS / args.batch_size))
    return calls * args.batch_size * EXAMPLE_SECONDS, lambda: [infer(batch) for _ in range(calls)]


def beam_direct(paths, args):
    """Whole Beam jobs over the files on 2 worker processes; returns (audio seconds, a pass)."""
    from airtf.features import extract_beam

    settings = extract_beam.Settings(out=str(args.workdir / "out" / "beam-direct"), weights="random",
                                     batch_size=args.batch_size, overwrite=True)
    jobs = [(str(path), path.stem) for path in paths]
    extract_beam.run(jobs[:1], settings, "direct", BEAM_WORKERS)  # imports and pickling, once
    return audio_seconds(paths), lambda: extract_beam.run(jobs, settings, "direct", BEAM_WORKERS)


def beam_overhead(paths, args):
    """Seconds of a Beam job over one file per worker (the fastest of three): starting the workers, each
    importing TensorFlow and building its model, side by side as in a real job, and Beam's own stages."""
    from airtf.features import extract_beam

    settings = extract_beam.Settings(out=str(args.workdir / "out" / "beam-overhead"), weights="random",
                                     batch_size=args.batch_size, overwrite=True)
    jobs = [(str(path), path.stem) for path in paths[:BEAM_WORKER_COUNT]]
    times = []
    for _ in range(3):
        start = time.perf_counter()
        extract_beam.run(jobs, settings, "direct", BEAM_WORKERS)
        times.append(time.perf_counter() - start)
    return min(times)


def features(path, output, backbone, resampler, workdir):
    """One file's features from the Extractor, as an array."""
    from airtf.features.extract import Extractor

    with tempfile.TemporaryDirectory(dir=workdir) as out:
        target = Path(out) / "features.json"
        Extractor(output, backbone, resampler=resampler).run([(path, target)])
        return np.asarray(json.loads(target.read_text())["features"])


def soxr_deviation(path, workdir):
    """Max |soxr - resampy| of one file's log-mel examples and embeddings, and their scales."""
    backbone, _ = compiled_model()
    deviation = {}
    for output in ("logmel", "embedding"):
        exact, fast = (features(path, output, backbone, name, workdir) for name in ("resampy", "soxr"))
        deviation[output] = float(np.abs(fast - exact).max())
        deviation[f"{output}_scale"] = float(np.abs(exact).max())
    return deviation


def say(message):
    print(PROTOCOL_PREFIX + json.dumps(message), flush=True)


def run_mode(args):
    """Serve one mode: warm up, then time a pass per "pass" line on stdin; report at end of input."""
    paths = sorted((args.workdir / "audio").glob("*.ogg"))
    prepare = {"per-file": per_file, "batched": batched, "batched-soxr": batched_soxr,
               "model-only": model_only, "beam-direct": beam_direct}[args.mode]
    seconds, one_pass = prepare(paths, args)
    say("ready")
    for _ in sys.stdin:
        start = time.perf_counter()
        one_pass()
        say(time.perf_counter() - start)
    result = {"seconds": seconds,
              "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if args.mode == "batched-soxr":
        result["deviation"] = soxr_deviation(paths[0], args.workdir)
    if args.mode == "beam-direct":
        result["overhead"] = beam_overhead(paths, args)
    say(result)


# ------------------------------------------------------------- the parent

class Child:
    """One mode served by a child process of this script."""

    def __init__(self, mode, args, workdir):
        command = [sys.executable, __file__, "--mode", mode, "--workdir", str(workdir),
                   "--batch-size", str(args.batch_size)]
        environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3")}
        self.mode = mode
        self.stderr = tempfile.TemporaryFile("w+")
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=self.stderr, text=True, env=environment)

    def receive(self):
        """The child's next message; exits with its stderr if it died."""
        for line in self.process.stdout:
            if line.startswith(PROTOCOL_PREFIX):
                return json.loads(line[len(PROTOCOL_PREFIX):])
        self.stderr.seek(0)
        raise SystemExit(f"mode {self.mode} failed (exit {self.process.wait()}):\n{self.stderr.read()[-3000:]}")

    def time_pass(self):
        self.process.stdin.write("pass\n")
        self.process.stdin.flush()
        return self.receive()

    def finish(self):
        self.process.stdin.close()
        result = self.receive()
        self.process.wait()
        return result


def measure(args, workdir):
    """Time every mode, passes interleaved round-robin so that other load hits all alike; keep each best."""
    children = [Child(mode, args, workdir) for mode in MODES]
    for child in children:
        child.receive()  # warmed up
    best = {mode: float("inf") for mode in MODES}
    for _ in range(args.repeats):
        for child in children:
            best[child.mode] = min(best[child.mode], child.time_pass())
    results = {}
    for child in children:
        result = child.finish()
        results[child.mode] = {**result, "wall": best[child.mode], "rate": result["seconds"] / best[child.mode]}
    return results


def table(results):
    """The results as an aligned text table."""
    baseline = results["per-file"]["rate"]
    rows = [("mode", "audio s / wall s", "vs per-file", "wall s", "peak RSS MiB")]
    for mode, result in results.items():
        rows.append((mode, f"{result['rate']:.1f}", f"{result['rate'] / baseline:.2f}x", f"{result['wall']:.2f}",
                     f"{result['rss_mib']:.0f}"))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) if column == 0 else cell.rjust(width)
                       for column, (cell, width) in enumerate(zip(row, widths))) for row in rows]
    return "\n".join([lines[0], "-" * len(lines[0]), *lines[1:]])


def deviation_line(deviation):
    return (f"soxr vs resampy on one file: log-mel max |diff| {deviation['logmel']:.2e} "
            f"(values up to {deviation['logmel_scale']:.1f}), embedding max |diff| {deviation['embedding']:.2e} "
            f"(values up to {deviation['embedding_scale']:.2f}, random weights)")


# ------------------------------------------------------ whole processes

def timed(command, environment):
    """(wall, CPU) seconds of running ``command`` to its end; exits with its output if it fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    finished = subprocess.run(command, env=environment, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if finished.returncode:
        raise SystemExit(f"{' '.join(map(str, command))} failed (exit {finished.returncode}):\n"
                         f"{finished.stderr[-3000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def fastest(commands, rounds, environment):
    """Name -> the fastest (wall, CPU) of ``rounds`` runs of each command, the commands taking turns."""
    runs = {name: [] for name in commands}
    for _ in range(rounds):
        for name, command in commands.items():
            runs[name].append(timed(command, environment))
    return {name: min(values) for name, values in runs.items()}


def process_table(results, baseline):
    """The whole-process timings as an aligned table, against ``baseline``'s wall time."""
    width = max(map(len, results)) + 2
    lines = [f"{'process':<{width}}{'wall s':>8}{'vs ' + baseline:>{len(baseline) + 5}}{'CPU s':>8}"]
    for name, (wall, cpu) in results.items():
        ratio = f"{results[baseline][0] / wall:.2f}x"
        lines.append(f"{name:<{width}}{wall:>8.2f}{ratio:>{len(baseline) + 5}}{cpu:>8.2f}")
    return "\n".join([lines[0], "-" * len(lines[0]), *lines[1:]])


def pca_difference(airtf_out, official_out):
    """The largest difference, in quantisation steps, between the two processes' PCA features of the files."""
    largest = 0
    for official in sorted(official_out.glob("*.npy")):
        ours = np.asarray(json.loads((airtf_out / "pca" / f"{official.stem}.json").read_text())["features"])
        largest = max(largest, int(np.abs(ours.astype(int) - np.load(official).astype(int)).max()))
    return largest


def processes(args, workdir):
    """Whole processes with an official-format V1 checkpoint: 96-file style end to end, then start-up."""
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "AIRTF_MODELS": str(workdir / "models"),
                   "AIRTF_CACHE": str(workdir / "cache"), "PYTHONPATH": str(REPOSITORY / "tests")}
    checkpoint = workdir / "checkpoint" / "vggish_model.ckpt"
    checkpoint.parent.mkdir()
    timed([sys.executable, "-c", "import sys, numpy, tf1_vggish; "
           "tf1_vggish.write_checkpoint(sys.argv[1], numpy.zeros((1, 96, 64), numpy.float32), 'V1')",
           str(checkpoint)], environment)
    audio = sorted(path for path in (workdir / "audio").rglob("*") if path.is_file())
    folders = sorted({path.parent for path in audio})

    def airtf(out, *options, inputs=folders):
        return [sys.executable, "-m", "airtf.cli.extract", *map(str, inputs), "--out", str(workdir / out),
                "--quiet", "--overwrite", *options]

    def official(out, inputs):
        return [sys.executable, str(REPOSITORY / "tools" / "official_extract.py"), *map(str, inputs),
                "--checkpoint", str(checkpoint), "--pca-params", str(args.pca_params), "--out", str(workdir / out)]

    with_checkpoint = ("--output", "pca", "--weights", str(checkpoint), "--pca-params", str(args.pca_params))
    first = timed(airtf("airtf", *with_checkpoint), environment)
    whole = fastest({"official per-file": official("official", audio),
                     "airtf-extract": airtf("airtf", *with_checkpoint)}, args.repeats, environment)
    difference = pca_difference(workdir / "airtf", workdir / "official")
    print(f"\nend to end: {len(audio)} files in {len(folders)} folder(s) -> PCA features, whole processes, "
          f"fastest of {args.repeats}; load average {os.getloadavg()[0]:.2f}")
    print(process_table({**whole, "airtf-extract, first run": first}, "official per-file"))
    print(f"largest difference between the two processes' PCA features: {difference} quantisation step(s)")
    if args.short_files:
        return
    one = audio[:1]
    startup = fastest({"official per-file": official("official-1", one),
                       "airtf-extract, V1 checkpoint": airtf("airtf-1", *with_checkpoint, inputs=one),
                       "airtf-extract --weights random": airtf("random-1", "--weights", "random", inputs=one),
                       "airtf-extract --output logmel": airtf("logmel-1", "--output", "logmel", inputs=one),
                       "python -c 'import tensorflow'": [sys.executable, "-c", "import tensorflow"]},
                      args.repeats, environment)
    print(f"\nstart-up: one {args.seconds:g} s file, whole processes, fastest of {args.repeats}; "
          f"load average {os.getloadavg()[0]:.2f}")
    print(process_table(startup, "official per-file"))


def main(argv=None):
    args = parse(argv)
    if args.mode:
        return run_mode(args)
    with tempfile.TemporaryDirectory() as scratch:
        workdir = (args.workdir or Path(scratch)).resolve()
        if args.short_files:
            args.files, args.seconds = SHORT_FILES, SHORT_SECONDS
        paths = write_corpus(workdir / "audio", args.files, args.seconds, folders=SHORT_FOLDERS if args.short_files
                             else 1, wav=args.short_files)
        print(f"{len(paths)} files x {args.seconds:g} s, 44.1 kHz stereo {'WAV' if args.short_files else 'OGG/Vorbis'} "
              f"({audio_seconds(paths):.0f} s of audio); batch size {args.batch_size}; best of {args.repeats} passes; "
              f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}", flush=True)
        if args.processes:
            return processes(args, workdir)
        results = measure(args, workdir)
    print()
    print(table(results))
    print()
    print(deviation_line(results["batched-soxr"]["deviation"]))
    if "beam-direct" in results:
        print(beam_line(results))
    else:
        print("beam-direct: apache-beam is not installed here (run this in scripts/test-beam's .venv-beam)")


def beam_line(results):
    """The Beam job's process overhead, and its rate without it, against the batched path."""
    beam, local = results["beam-direct"], results["batched"]
    working = beam["wall"] - beam["overhead"]
    rate = beam["seconds"] / working if working > 0 else float("inf")
    return (f"beam-direct: a job over one file per worker takes {beam['overhead']:.2f} s ({BEAM_WORKER_COUNT} "
            f"worker processes starting, each importing TensorFlow and building the model): the process "
            f"overhead; without it the job runs {rate:.1f} audio s / wall s, {rate / local['rate']:.2f}x the "
            f"batched path")


if __name__ == "__main__":
    main()
