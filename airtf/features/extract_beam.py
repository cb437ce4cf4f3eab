"""``airtf-extract --runner``: the same extraction as an Apache Beam pipeline, on any Beam runner.

The pipeline (apache-beam, the ``airtf[beam]`` extra)::

    audio paths (the folder walk of airtf-extract, or a file list of one path a line)
      | Reshuffle                   spread the files over the workers
      | ExtractFiles                per worker: the model built once (DoFn.setup); per bundle: the
                                    local Extractor over the bundle's files (up to FILES_PER_RUN at
                                    a time), examples batched across them
      |-- written outputs           OUT/<output>/<stem>.json|npz, each written atomically (a retried
      |                             bundle never leaves a half file); existing ones skipped unless
      |                             overwrite, so a failed job is simply rerun
      |-- or SequenceExamples       --format tfrecord: sharded TFRecords in AudioSet's layout
      '-- failed                    the dead letters: OUT/<output>/airtf-extract-failed-*.tsv, path and reason

Counts go to Beam metrics (namespace ``airtf-extract``: written, failed,
skipped, examples) and to :class:`Summary`, whose line matches the local path's.

Audio on a file system Beam reads (gs://, s3://, hdfs://, with that
extra installed) is copied to a local temporary file first. Per-file outputs
go to a folder every worker can write (local disk for the DirectRunner, a
shared mount on a cluster); TFRecord outputs go anywhere Beam writes.
"""

import dataclasses
import logging
import os
import shutil
import socket
import tempfile
from pathlib import Path

import numpy as np

from airtf import params
from airtf.errors import AirtfError

RUNNERS = ("direct", "dataflow", "flink", "spark", "portable")
"""``--runner`` values and the Beam runner each names."""
RUNNER_NAMES = {"direct": "DirectRunner", "dataflow": "DataflowRunner", "flink": "FlinkRunner",
                "spark": "SparkRunner", "portable": "PortableRunner"}
FORMATS = (*params.FEATURE_FORMATS, "tfrecord")
METRICS_NAMESPACE = "airtf-extract"
FAILED_PREFIX = "airtf-extract-failed"
TFRECORD_PREFIX = "features"
QUIET_LOG_LEVEL = "ERROR"
"""Beam's log level here and on its workers, unless ``--default_sdk_harness_log_level`` is given:
its INFO and WARNING lines are about Beam itself, not about the files."""
JOB_ENDPOINT_TIMEOUT = 10
"""Seconds to wait for a connection to ``--job_endpoint`` before saying that nothing answers there."""
FILES_PER_RUN = 64
"""Most files of a bundle in one Extractor run. Each run builds its tf.data pipeline anew and fills and
drains it, about 0.15 s on 2 cores (measured): elements of 8 files lost 12-20% of the local rate to
that, runs over the whole bundle lose nothing measurable. The cap bounds what a run holds: the local
copies of remote audio, and the features in memory for --format tfrecord."""


class BeamError(AirtfError):
    """The Beam pipeline cannot be built or run as asked."""


@dataclasses.dataclass(frozen=True)
class Settings:
    """What each worker needs to extract: the model and where the outputs go."""

    out: str
    output: str = "embedding"
    format: str = "json"
    weights: str = "official"
    variant: str | None = None
    pca_params: str | None = None
    layer: str | None = None
    hop: float | None = None
    batch_size: int = params.EXTRACT_BATCH_SIZE
    pad: bool = False
    resampler: str = "resampy"
    overwrite: bool = False

    @property
    def folder(self):
        """OUT/<output>: where the outputs and the dead letters go."""
        return f"{self.out.rstrip('/')}/{self.output}"


@dataclasses.dataclass
class Summary:
    """What the pipeline did, from its Beam metrics."""

    written: int
    failed: int
    skipped: int
    examples: int
    dead_letters: list
    empty: int = 0

    def line(self, folder):
        """The local path's line (:func:`airtf.features.extract.summary_line`)."""
        from airtf.features import extract

        return extract.summary_line(folder, self.written, self.examples, self.skipped, self.empty)


def _beam():
    try:
        import apache_beam
    except ImportError:
        raise BeamError("--runner needs Apache Beam: pip install 'airtf[beam]'") from None
    return apache_beam


def _pipeline_options(args):
    from apache_beam.options.pipeline_options import PipelineOptions

    return PipelineOptions(list(args))


def check_settings(settings):
    """Fail here, in one line, where a worker's setup would fail: weights or PCA parameters not on disk."""
    from airtf import musicnn, vggish

    if settings.output == "normalised":
        from airtf.features import feature_sets

        feature_sets.of_run(settings.weights)  # a run directory with a feature set, else one line here
        return
    if musicnn.names_musicnn(settings.weights):
        source = musicnn.MusicnnSource.parse(settings.weights, settings.layer)
        if settings.output != "logmel":
            source.checkpoint_folder()
        return
    if settings.output == "logmel":
        return
    vggish.WeightsSource.parse(settings.weights, settings.variant).file()
    if settings.output == "pca":
        vggish.PCAQuantize.from_file(settings.pca_params or vggish.presets.official_pca_params())


def read_file_list(path, pipeline_args=()):
    """The audio paths of a file list, one a line (blank lines and # comments skipped), as (path, stem) pairs.

    The list is read through Beam's file systems, configured by
    ``pipeline_args`` (credentials of s3://, say). The stem of each output is
    the file's name without its suffix; two files of one name are refused, as
    airtf-extract refuses them.
    """
    beam = _beam()
    filesystems = beam.io.filesystems.FileSystems
    filesystems.set_options(_pipeline_options(pipeline_args))
    try:
        with filesystems.open(path) as stream:
            lines = stream.read().decode().splitlines()
    except FileNotFoundError:
        raise BeamError(f"{path}: no such file list; give a file of audio paths, one a line") from None
    except Exception as error:  # no file system for the scheme, no credentials, not text, ...
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise BeamError(f"{path}: cannot read the file list ({reason})") from None
    entries = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not entries:
        raise BeamError(f"{path}: the file list names no audio file; write one path a line")
    stems = {}
    for entry in entries:
        stem = entry.rstrip("/").rsplit("/", 1)[-1].rsplit(".", 1)[0]
        if stem in stems:
            raise BeamError(f"{path}: {entry} and {stems[stem]} would write the same output {stem}; "
                            "rename one of them or extract them in separate runs")
        stems[stem] = entry
    return [(entry, stem) for entry, stem in zip(entries, stems)]


def output_target(settings, stem):
    """Where one file's features go (per-file formats)."""
    return f"{settings.folder}/{stem}.{settings.format}"


class ExtractFiles:
    """Made into a Beam DoFn by :func:`build`: extract a batch of (path, stem) files on one worker."""

    def __init__(self, settings):
        self.settings = settings
        self.extractor = None

    def setup(self):
        """Build the model once per worker (a process of airtf's: Keras without its optional imports)."""
        from airtf.features import extract
        from airtf.support import lean_imports

        lean_imports.keras_without_optional_imports()
        self.extractor = extract.make_extractor(self.settings.output, self.settings.weights, self.settings.variant,
                                                self.settings.pca_params, self.settings.layer, self.settings.hop,
                                                batch_size=self.settings.batch_size,
                                                pad=self.settings.pad, resampler=self.settings.resampler)

    def process(self, files, counters, failed_tag):
        """Yield written output paths (or, for tfrecord, (stem, features)), and failures to ``failed_tag``."""
        beam = _beam()
        todo = []
        for path, stem in files:
            if self.settings.format != "tfrecord" and not self.settings.overwrite and \
                    Path(output_target(self.settings, stem)).exists():
                counters["skipped"].inc()
            else:
                todo.append((path, stem))
        if not todo:
            return
        with tempfile.TemporaryDirectory(prefix="airtf-beam-") as scratch:
            local = [(_local_copy(path, scratch), path, stem) for path, stem in todo]
            yield from self._extract(local, counters, failed_tag, beam)

    def _extract(self, local, counters, failed_tag, beam):
        readable = [(copy, path, stem) for copy, path, stem in local if not isinstance(copy, Exception)]
        for copy, path, _ in local:
            if isinstance(copy, Exception):
                counters["failed"].inc()
                yield beam.pvalue.TaggedOutput(failed_tag, (path, f"{path}: cannot read it ({copy})"))
        if self.settings.format == "tfrecord":
            yield from self._arrays(readable, counters, failed_tag, beam)
            return
        names = {str(copy): path for copy, path, _ in readable}
        report = self.extractor.run([(copy, output_target(self.settings, stem)) for copy, _, stem in readable])
        if report.stopped:
            raise BeamError(report.stopped)  # a write error: Beam retries the bundle, then fails the job
        counters["examples"].inc(report.examples)
        for written in report.written:
            counters["written"].inc()
            yield str(written)
        counters["empty"].inc(len(report.empty))
        for copy, message in report.failed:
            counters["failed"].inc()
            original = names[str(copy)]
            yield beam.pvalue.TaggedOutput(failed_tag, (original, message.replace(str(copy), original)))

    def _arrays(self, readable, counters, failed_tag, beam):
        features, report = self.extractor.collect([copy for copy, _, _ in readable])
        messages = {str(copy): message for copy, message in report.failed}
        for (copy, path, stem), array in zip(readable, features):
            if array is None:
                counters["failed"].inc()
                yield beam.pvalue.TaggedOutput(failed_tag, (path, messages[str(copy)].replace(str(copy), path)))
                continue
            counters["written"].inc()
            counters["examples"].inc(len(array))
            yield stem, array


def _local_copy(path, scratch):
    """``path`` itself where it is local, else a copy in ``scratch``; the exception where it cannot be read."""
    beam = _beam()
    filesystems = beam.io.filesystems.FileSystems
    if filesystems.get_scheme(path) in (None, "file"):
        return Path(path)
    target = Path(scratch) / f"{len(os.listdir(scratch))}-{path.rsplit('/', 1)[-1]}"
    try:
        with filesystems.open(path, compression_type="uncompressed") as source, open(target, "wb") as sink:
            shutil.copyfileobj(source, sink)
    except Exception as error:  # reported as this file's failure, the others go on
        return error
    return target


def sequence_example(stem, features):
    """One file's features as AudioSet's release stores a clip: a serialized tf.train.SequenceExample.

    Context ``video_id`` (the file's stem) and ``start_time_seconds`` (0)
    and ``end_time_seconds``; feature list ``audio_embedding``, one bytes
    feature per 0.96 s example (uint8 PCA features as they are, float32
    embeddings or log-mel frames as their raw bytes).
    """
    import tensorflow as tf

    def bytes_feature(value):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))

    def float_feature(value):
        return tf.train.Feature(float_list=tf.train.FloatList(value=[value]))

    end = len(features) * params.EXAMPLE_HOP_SECONDS
    context = tf.train.Features(feature={"video_id": bytes_feature(stem.encode()),
                                         "start_time_seconds": float_feature(0.0),
                                         "end_time_seconds": float_feature(end)})
    rows = [bytes_feature(np.ascontiguousarray(row).tobytes()) for row in features]
    lists = tf.train.FeatureLists(feature_list={"audio_embedding": tf.train.FeatureList(feature=rows)})
    return tf.train.SequenceExample(context=context, feature_lists=lists).SerializeToString()


def build(pipeline, files, settings):
    """Add the extraction of ``files`` ((path, stem) pairs, or a file list's path) to ``pipeline``."""
    beam = _beam()
    metrics = beam.metrics.Metrics
    extract_files = ExtractFiles(settings)

    in_window = beam.transforms.window.GlobalWindows.windowed_value

    class ExtractDoFn(beam.DoFn):
        """Gathers a bundle's files and extracts them together (as BatchElements batches, per bundle)."""

        def setup(self):
            extract_files.setup()
            self.counters = {name: metrics.counter(METRICS_NAMESPACE, name)
                             for name in ("written", "failed", "skipped", "examples", "empty")}

        def start_bundle(self):
            self.pending = []

        def process(self, file):
            self.pending.append(file)
            if len(self.pending) >= FILES_PER_RUN:
                yield from self.extract_pending()

        def finish_bundle(self):
            for output in self.extract_pending():  # outside process, outputs name their (global) window
                is_failure = isinstance(output, beam.pvalue.TaggedOutput)
                yield beam.pvalue.TaggedOutput(output.tag, in_window(output.value)) if is_failure else \
                    in_window(output)

        def extract_pending(self):
            files, self.pending = self.pending, []
            return extract_files.process(files, self.counters, "failed")

    paths = pipeline | "files" >> beam.Create(files)
    results = (paths
               | "spread" >> beam.Reshuffle()
               | "extract" >> beam.ParDo(ExtractDoFn()).with_outputs("failed", main="written"))
    (results.failed
     | "format failures" >> beam.MapTuple(lambda path, reason: f"{path}\t{reason}")
     | "dead letters" >> beam.io.WriteToText(f"{settings.folder}/{FAILED_PREFIX}", file_name_suffix=".tsv",
                                             num_shards=1))
    if settings.format == "tfrecord":
        (results.written
         | "serialize" >> beam.MapTuple(sequence_example)
         | "records" >> beam.io.WriteToTFRecord(f"{settings.folder}/{TFRECORD_PREFIX}", file_name_suffix=".tfrecord"))
    return results


def run(files, settings, runner="direct", pipeline_args=()):
    """Run the extraction of ``files`` ((path, stem) pairs) on ``runner``; return its :class:`Summary`.

    ``pipeline_args`` are Beam's own options (``--direct_num_workers 2``,
    ``--project``, ``--region``, ``--temp_location``, ...).
    """
    beam = _beam()
    if runner not in RUNNERS:
        raise BeamError(f"unknown runner {runner!r}; choose one of {', '.join(RUNNERS)}")
    quiet = [] if any(arg.startswith("--default_sdk_harness_log_level") for arg in pipeline_args) else \
        ["--default_sdk_harness_log_level", QUIET_LOG_LEVEL]
    options = _pipeline_options(["--runner", RUNNER_NAMES[runner], *quiet, *pipeline_args])
    beam.io.filesystems.FileSystems.set_options(options)  # for the dead letters, read here
    beam_logger = logging.getLogger("apache_beam")
    level = beam_logger.level
    if quiet:
        beam_logger.setLevel(QUIET_LOG_LEVEL)
    check_settings(settings)
    check_job_endpoint(options)
    try:
        pipeline = beam.Pipeline(options=options)
        build(pipeline, files, settings)
        result = pipeline.run()
        result.wait_until_finish()
    except Exception as error:  # Beam's job failures carry whole worker tracebacks: keep the first line
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        if isinstance(error, _grpc_timeout()):
            first = "the job server did not answer within --job_server_timeout seconds"
        raise BeamError(f"the {RUNNER_NAMES[runner]} job failed: {first}; the outputs written so far are "
                        "kept, rerun the same command to do the rest") from None
    finally:
        beam_logger.setLevel(level)
    return summary(result, settings)


def _grpc_timeout():
    import grpc  # installed with apache-beam

    return grpc.FutureTimeoutError


def check_job_endpoint(options):
    """Fail at once, in one line, where ``--job_endpoint`` names a port nothing listens on (Beam would wait
    ``--job_server_timeout``, 300 s by default, then fail without naming it)."""
    from apache_beam.options.pipeline_options import PortableOptions

    endpoint = options.view_as(PortableOptions).job_endpoint
    if not endpoint or ":" not in endpoint:  # none, or "embed": no server to reach
        return
    host, port = endpoint.rsplit(":", 1)
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=JOB_ENDPOINT_TIMEOUT).close()
    except (OSError, ValueError) as error:
        raise BeamError(f"no job server answers at {endpoint} (--job_endpoint): start it, or fix the "
                        f"address ({getattr(error, 'strerror', None) or error})") from None


def summary(result, settings):
    """The :class:`Summary` of a finished pipeline: its counters and its dead letters."""
    beam = _beam()
    query = result.metrics().query(beam.metrics.MetricsFilter().with_namespace(METRICS_NAMESPACE))
    counts = {}
    for counter in query["counters"]:
        counts[counter.key.metric.name] = counts.get(counter.key.metric.name, 0) + counter.committed
    letters = []
    for match in beam.io.filesystems.FileSystems.match([f"{settings.folder}/{FAILED_PREFIX}*"])[0].metadata_list:
        with beam.io.filesystems.FileSystems.open(match.path) as stream:
            letters += [tuple(line.split("\t", 1)) for line in stream.read().decode().splitlines() if line]
    return Summary(counts.get("written", 0), counts.get("failed", 0), counts.get("skipped", 0),
                   counts.get("examples", 0), sorted(letters), counts.get("empty", 0))
