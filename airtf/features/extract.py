"""Batched feature extraction from audio files: log-mel, a model's embeddings (VGGish, musicnn's layers), PCA.

Files are decoded, resampled and cut into example-aligned segments in
parallel tf.data workers (streaming, so a file of any length fits in bounded
memory), turned into examples by the model's front end (a Keras layer:
VGGish's log-mel examples by default, musicnn's patches), and batched
across files into the model. Each file's features are written when its last
example has been through the model, in the layout of OpenMIC-2018's released
features: ``{"time_points": [...], "features": [...]}``.
"""

import dataclasses
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np

from airtf import audio, params
from airtf.errors import AirtfError, AudioTooShortWarning, SilentAudioWarning, WriteError
from airtf.features.outputs import FeatureArray, FeatureFile
from airtf.support import interrupts
from airtf.support.files import printable, write_npz

OUTPUTS = params.EXTRACT_OUTPUTS
SEGMENT, END, FAILED = 0, 1, 2  # what a pipeline element carries


class AudioFiles(NamedTuple):
    """What :func:`find_audio` found."""

    files: list
    """(path, relative output stem) of each audio file."""
    broken_links: list
    """Links with an audio suffix, in the folders, that point nowhere (dangling or looping): skipped."""


def find_audio(inputs):
    """Audio files named by ``inputs`` (files or folders, searched recursively).

    A file given directly keeps its name as output stem; a file found in a
    folder keeps its path below that folder, so ``audio/000/x.ogg`` becomes
    ``000/x``, as in OpenMIC-2018's layout.

    Returns
    -------
    AudioFiles
    """
    found, broken = [], []
    for item in map(Path, inputs):
        if not item.is_dir():
            found.append((item, Path(item.stem)))
            continue
        for path in sorted(item.rglob("*")):
            if path.suffix.lower() not in audio.AUDIO_SUFFIXES:
                continue
            if path.is_file():
                found.append((path, path.relative_to(item).with_suffix("")))
            elif path.is_symlink() and not path.exists():
                broken.append(path)
    stems = {}
    for path, stem in found:
        if stem in stems:
            raise AirtfError(f"{path}: its output would overwrite that of {stems[stem]}; "
                             "rename one of them or extract them in separate calls")
        stems[stem] = path
    return AudioFiles(found, broken)


def summary_line(folder, written, examples, kept=0, empty=0, broken_links=0):
    """The line an extraction ends with, locally and on Beam.

    ``wrote N files (E examples) to FOLDER``, then what was kept (existing
    outputs), not written (files without one example) and skipped (broken links).
    """
    notes = [f"kept {kept:,} existing (--overwrite replaces them)"] if kept else []
    notes += [f"{empty:,} shorter than one example, not written (--pad zero-pads them to one)"] if empty else []
    notes += [f"skipped {broken_links:,} broken links"] if broken_links else []
    return f"wrote {written:,} files ({examples:,} examples) to {folder}" + "".join(f"; {note}" for note in notes)


def output_path(out_dir, output, stem, fmt="json"):
    """Where the features of one file go: ``OUT/<output>/<stem>.<fmt>``."""
    return Path(out_dir) / output / f"{stem}.{fmt}"


class Plan(NamedTuple):
    """What :func:`plan` found to do."""

    jobs: list
    """(audio path, output path) of each file to extract."""
    existing: int
    """Files whose output is there already (kept without ``overwrite``)."""
    broken_links: list
    """See :class:`AudioFiles`."""


def plan(inputs, out_dir, output, fmt="json", overwrite=False):
    """The files of ``inputs`` (see :func:`find_audio`) and where their features go, existing outputs kept.

    Returns
    -------
    Plan
    """
    found = find_audio(inputs)
    jobs, existing = [], 0
    for path, stem in found.files:
        target = output_path(out_dir, output, stem, fmt)
        if target.exists() and not overwrite:
            existing += 1
        else:
            jobs.append((path, target))
    return Plan(jobs, existing, found.broken_links)


def make_extractor(output, weights="official", variant=None, pca_params=None, layer=None, hop=None, **options):
    """An :class:`Extractor` of ``output`` on the model and PCA file that ``--weights``, ``--variant``,
    ``--pca-params`` and ``--layer`` name, examples ``hop`` seconds apart; ``options`` go to the Extractor.

    ``weights`` names a VGGish (see :func:`airtf.vggish.from_preset`), a
    musicnn model (a preset such as ``musicnn-mtt``, or a folder of its
    checkpoint: :func:`airtf.musicnn.from_preset`), whose ``layer`` gives the
    embeddings (default: :data:`airtf.musicnn.DEFAULT_LAYERS`); for ``normalised``, an
    airtf-eval run directory, whose feature set (its weights and its statistics
    fitted on the training clips) the frames are: what its classifier reads.
    ``hop`` (None: the model's own, 0.96 s for VGGish, 2.992 s for musicnn)
    makes examples overlap where shorter; a multiple of the front end's
    frame step (10 ms for VGGish, 16 ms for musicnn).
    """
    from airtf import musicnn
    from airtf.audio.frames import with_hop

    if output == "normalised":
        from airtf.features import feature_sets

        if variant is not None or pca_params is not None or layer is not None or hop is not None:
            raise AirtfError("--output normalised computes an airtf-eval run's own feature set (--weights RUN_DIR): "
                             "leave out --variant, --pca-params, --layer and --hop")
        return feature_sets.of_run(weights).frames_extractor(**options)
    if musicnn.names_musicnn(weights):
        source = musicnn.MusicnnSource.parse(weights, layer)
        if variant is not None or pca_params is not None or output == "pca":
            raise AirtfError(f"--weights {weights} is a musicnn model: --variant, --pca-params and --output pca "
                             "are VGGish's; leave them out")
        front_end = with_hop(musicnn.MusicnnPatches(), hop)
        backbone = None if output == "logmel" else source.load()
        return Extractor(output, backbone, front_end=front_end, **options)
    if layer is not None:
        raise AirtfError("--layer chooses a musicnn model's layer; VGGish gives its embedding (or pca): leave it out")
    from airtf.vggish.audio_converter import LogMelExamples

    front_end = with_hop(LogMelExamples(), hop)
    backbone = postprocess = None
    if output != "logmel":
        from airtf import vggish

        backbone = vggish.from_preset(weights, variant)
        if output == "pca":
            postprocess = vggish.PCAQuantize.from_file(pca_params or vggish.presets.official_pca_params())
    return Extractor(output, backbone, postprocess, front_end, **options)


@dataclasses.dataclass
class Report:
    """What one extraction did."""

    written: list = dataclasses.field(default_factory=list)
    skipped: list = dataclasses.field(default_factory=list)
    failed: list = dataclasses.field(default_factory=list)  # (path, message)
    empty: list = dataclasses.field(default_factory=list)
    """Files without one whole example: no output file is written for them (the official code gives zero
    examples, openl3 skips them; an empty file would serve nothing); arrays are empty."""
    examples: int = 0
    stopped: str = ""
    """Why the run stopped before its end (a write error), or empty."""


@dataclasses.dataclass
class _FileState:
    path: object  # Path or audio.Waveform
    output: object  # FeatureFile or FeatureArray
    samples: int = 0
    peak: float = 0.0
    queued: int = 0  # examples waiting for the model
    error: str = ""


class Extractor:
    """Extract one kind of feature from many files, batching examples across files.

    Parameters
    ----------
    output : {"logmel", "embedding", "pca", "normalised"}
        The front end's examples, or the model's outputs of them (post-processed: pca, normalised).
    backbone : keras.Model or None
        The model of examples (n, *example_shape) to features (n, ...):
        a VGGish, a musicnn layer (needed for embedding and pca).
    postprocess : keras.layers.Layer or None
        Applied to embeddings (the PCA layer for pca).
    front_end : keras.layers.Layer or None
        Waveform segment to examples, stating its framing
        (``example_samples``, ``hop_samples``, ``edge_samples``,
        ``example_shape``); default VGGish's :class:`~airtf.vggish.LogMelExamples`.
    batch_size : int
        Examples per model call.
    pad : bool
        Zero-pad audio shorter than one example (see :func:`airtf.audio.example_segments`).
    resampler : {"resampy", "soxr"}
        "resampy" reproduces the official numbers; "soxr" is faster.
    block_seconds : float
        Audio read per step of the streaming reader.
    parallel : int
        Files decoded at once.
    """

    def __init__(self, output, backbone=None, postprocess=None, front_end=None, batch_size=params.EXTRACT_BATCH_SIZE,
                 pad=False, resampler="resampy", block_seconds=params.BLOCK_SECONDS, parallel=2):
        from airtf.vggish.audio_converter import LogMelExamples

        if output not in OUTPUTS:
            raise ValueError(f"unknown output {output!r}; choose one of {OUTPUTS}")
        if output != "logmel" and backbone is None:
            raise ValueError(f"output {output!r} needs a backbone")
        self.output = output
        self.front_end = front_end or LogMelExamples(pad=False)
        self.batch_size = batch_size
        self.pad = pad
        self.resampler = resampler
        self.block_seconds = block_seconds
        self.parallel = parallel
        self._infer = None if output == "logmel" else _inference_function(backbone, postprocess,
                                                                            self.front_end.example_shape)
        self.row_shape = self.front_end.example_shape if backbone is None else tuple(backbone.output_shape[1:])
        """Of one example's features: (96, 64) for VGGish's log-mel, (128,) for its embeddings."""

    @property
    def dtype(self):
        """Of the features: uint8 for pca, float32 otherwise."""
        return np.uint8 if self.output == "pca" else np.float32

    @property
    def hop_seconds(self):
        """Time from one example to the next (0.96 s for VGGish)."""
        return self.front_end.hop_samples / params.SAMPLE_RATE

    def features_of_examples(self, examples):
        """The features of examples (n, *front_end.example_shape) already in memory: (n, *row_shape)."""
        examples = np.asarray(examples, np.float32)
        return examples if self._infer is None else self._infer(examples)

    def silence(self):
        """The features of one example of digital silence: what padding a clip to more examples adds."""
        examples = self.front_end(np.zeros(self.front_end.example_samples + 2 * self.front_end.edge_samples,
                                           np.float32))
        return self.features_of_examples(np.asarray(examples)[:1])[0]

    def arrays(self, sources):
        """The features of each source (a path or an :class:`airtf.audio.Waveform`), in memory.

        Returns
        -------
        list of np.ndarray
            (n, *row_shape) per source, in order.

        Raises
        ------
        AirtfError
            The first source that failed, its message naming it.
        """
        features, report = self.collect(sources)
        if report.failed:
            raise AirtfError(report.failed[0][1])
        return features

    def collect(self, sources):
        """The features of each source in memory, and the :class:`Report` of the run (failures included).

        Returns
        -------
        features : list
            (n, *row_shape) np.ndarray per source, in order; None for a source that failed.
        report : Report
            ``written`` and ``failed`` name the sources as given.
        """
        sinks = [FeatureArray(str(source), self.dtype, self.row_shape) for source in sources]
        report = self._run(list(zip(sources, sinks)))
        return [sink.features for sink in sinks], report

    def run(self, jobs, on_file_done=None):
        """Extract features for ``jobs``, a list of (audio path, output path).

        Every file's failure is caught, reported and counted; the others go
        on. A write error (full disk, read-only or unwritable folder) stops
        the run: the files already written are kept, no partial file is
        left, and :attr:`Report.stopped` says why. ``on_file_done(path,
        error)`` is called after each file (error is None or its one-line
        message), for progress bars and logs.
        """
        return self._run([(source, FeatureFile(target, self.dtype, self.row_shape, self.hop_seconds))
                           for source, target in jobs], on_file_done)

    def _run(self, jobs, on_file_done=None):
        """:meth:`run` with the sink of each source given: a FeatureFile or a FeatureArray."""
        with audio.single_threaded_blas():
            return self._stream(jobs, on_file_done)

    def _stream(self, jobs, on_file_done):
        """Stream every job's examples through the model and into its sink; the :class:`Report`."""
        report = Report()
        states = [_FileState(source if isinstance(source, audio.Waveform) else Path(source), sink)
                  for source, sink in jobs]
        queue = []  # (file index, examples) awaiting the model, in arrival order
        ended = set()  # files whose audio is all read but whose features are not written yet
        try:
            for index, examples, kind in self._pipeline(states):
                interrupts.raise_if_interrupted()
                state = states[index]
                if kind == SEGMENT:
                    queue.append((index, examples))
                    state.queued += len(examples)
                    while sum(len(chunk) for _, chunk in queue) >= self.batch_size:
                        queue = self._run_batch(queue, states, self.batch_size)
                elif kind == END:
                    ended.add(index)
                else:
                    report.failed.append((state.path, state.error))
                    state.output.discard()
                    if on_file_done:
                        on_file_done(state.path, state.error)
                ended = self._write_finished(ended, states, report, on_file_done)
            while queue:
                queue = self._run_batch(queue, states, self.batch_size)
            self._write_finished(ended, states, report, on_file_done)
        except WriteError as error:
            report.stopped = str(error)
        finally:
            for state in states:  # unfinished files leave nothing behind
                state.output.discard()
        return report

    def _pipeline(self, states):
        """tf.data elements (file index, examples (n, *example_shape), kind), parallel over files."""
        import tensorflow as tf

        front_end = self.front_end

        def segments(index):
            state = states[index]
            try:
                blocks = _watch(audio.stream(state.path, block_seconds=self.block_seconds, resampler=self.resampler),
                                state)
                for segment in audio.segments_for(blocks, front_end, self.pad):
                    yield index, segment, SEGMENT
                yield index, np.zeros(0, np.float32), END
            except Exception as error:  # reported per file, the run goes on
                state.error = str(error) if isinstance(error, AirtfError) else f"{state.path}: {error}"
                yield index, np.zeros(0, np.float32), FAILED

        def worker_segments(worker):
            # one generator per worker over every parallel-th file, not one per file: each tf.data
            # generator costs its own set-up, which short files paid once each (tools/bench_extract.py)
            for index in range(int(worker), len(states), self.parallel):
                yield from segments(index)

        signature = (tf.TensorSpec((), tf.int64), tf.TensorSpec((None,), tf.float32), tf.TensorSpec((), tf.int64))
        dataset = tf.data.Dataset.range(self.parallel).interleave(
            lambda worker: tf.data.Dataset.from_generator(worker_segments, args=(worker,), output_signature=signature),
            cycle_length=self.parallel, num_parallel_calls=self.parallel, deterministic=True)
        dataset = dataset.map(lambda index, segment, kind: (index, front_end(segment), kind),
                              num_parallel_calls=self.parallel)
        # tf.data's autotuner stalled about 30% of runs for ~1.3 s at teardown (measured); the fixed
        # parallelism above runs as fast without it
        options = tf.data.Options()
        options.autotune.enabled = False
        return dataset.prefetch(2).with_options(options).as_numpy_iterator()

    def _run_batch(self, queue, states, size):
        """Send up to ``size`` queued examples through the model; return what is left queued."""
        taken, rest, count = [], [], 0
        for index, chunk in queue:
            room = size - count
            if room <= 0:
                rest.append((index, chunk))
                continue
            taken.append((index, chunk[:room]))
            if len(chunk) > room:
                rest.append((index, chunk[room:]))
            count += min(room, len(chunk))
        batch = np.concatenate([chunk for _, chunk in taken])
        results = batch if self._infer is None else self._infer(batch)
        start = 0
        for index, chunk in taken:
            state = states[index]
            if not state.error:
                state.output.append(results[start:start + len(chunk)])
            state.queued -= len(chunk)
            start += len(chunk)
        return rest

    def _write_finished(self, ended, states, report, on_file_done):
        """Write the ended files whose examples have all been through the model; return the others."""
        waiting = set()
        for index in ended:
            state = states[index]
            if state.queued:
                waiting.add(index)
                continue
            count = state.output.commit()
            _warn_if_odd(state, count, self.front_end)
            report.examples += count
            if count or state.output.keeps_empty:
                report.written.append(state.output.path)
            else:
                report.empty.append(state.path)
            if on_file_done:
                on_file_done(state.path, None)
        return waiting


def _watch(blocks, state):
    """Pass blocks through, recording length and peak for the warnings."""
    for block in blocks:
        state.samples += len(block)
        if len(block):
            state.peak = max(state.peak, float(np.abs(block).max()))
        yield block


def _warn_if_odd(state, count, front_end):
    name = printable(str(state.path))
    if count == 0:
        needed = front_end.example_samples - 2 * front_end.edge_samples
        description = AudioTooShortWarning.describe(state.samples, None if needed == params.EXAMPLE_SAMPLES else needed)
        warnings.warn(AudioTooShortWarning(f"{name}: {description}, so it has no "
                                           "features", fix="pass --pad to zero-pad such files to one example"),
                      stacklevel=3)
    elif state.peak == 0.0:
        warnings.warn(SilentAudioWarning(f"{name}: the audio is digital silence"), stacklevel=3)


def _inference_function(backbone, postprocess, example_shape):
    """A compiled function examples (n, *example_shape) -> features (n, ...) as numpy."""
    import tensorflow as tf

    spec = tf.TensorSpec((None, *example_shape), tf.float32)

    @tf.function(input_signature=[spec])
    def infer(examples):
        embeddings = backbone(examples, training=False)
        return embeddings if postprocess is None else postprocess(embeddings)

    return lambda examples: infer(examples).numpy()


def fill_released_features(root, backbone, pca, progress=False):
    """Give an OpenMIC-2018 folder the released features of its clips, computed with a VGGish.

    Writes ``vggish/<key[:3]>/<key>.json`` for every clip with audio and a
    row in the labels, and adds their features as ``X`` (n, 10, 128) uint8
    to ``openmic-2018.npz`` (rewritten atomically), so that the folder
    serves ``--features pca`` as the release does.

    Parameters
    ----------
    root : str or os.PathLike
        An OpenMIC-2018 folder holding audio/ and openmic-2018.npz.
    backbone : keras.Model
        The VGGish.
    pca : airtf.vggish.PCAQuantize
        The post-processing.
    progress : bool
        Show a progress bar.

    Raises
    ------
    AirtfError
        A clip's features fail or do not have 10 examples.
    """
    from tqdm import tqdm

    from airtf.datasets import npz, openmic

    dataset = openmic.OpenMIC(root)
    keys = list(dataset.labels().sample_key)
    targets = [dataset.vggish_path(key) for key in keys]
    jobs = [(dataset.audio_path(key), target) for key, target in zip(keys, targets)]
    with tqdm(total=len(jobs), desc="vggish", unit="clip", disable=not progress) as bar:
        report = Extractor("pca", backbone, pca).run(jobs, on_file_done=lambda path, error: bar.update())
    if report.failed or report.stopped:
        path, message = report.failed[0] if report.failed else (dataset.root, report.stopped)
        raise AirtfError(f"{path}: VGGish features failed ({message})")
    features = np.stack([openmic.read_vggish_json(target) for target in targets]) if targets else \
        np.zeros((0, openmic.EXAMPLES_PER_CLIP, params.EMBEDDING_SIZE), np.uint8)
    release = dataset.root / openmic.RELEASE_NPZ
    arrays = npz.read_arrays(release, "render the demo set again")
    write_npz(release, **{**arrays, "sample_key": arrays["sample_key"].astype(str), "X": features})
    return len(keys)
