"""airtf-extract --runner: the Beam pipeline gives the local path's outputs and failures, resumes, writes TFRecords.

Runs where apache-beam is installed (scripts/test-beam); skipped elsewhere,
except that the missing extra's message is checked there.
"""

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from airtf.cli import extract as extract_cli
from airtf.datasets.npz import read_arrays

pytestmark = pytest.mark.beam
HAVE_BEAM = importlib.util.find_spec("apache_beam") is not None
if not HAVE_BEAM and os.environ.get("AIRTF_EXPECT_BEAM") == "1":
    raise RuntimeError("AIRTF_EXPECT_BEAM=1 but apache_beam does not import: run scripts/test-beam")
needs_beam = pytest.mark.skipif(not HAVE_BEAM, reason="apache-beam is not installed here (scripts/test-beam)")
TWO_PROCESSES = ["--", "--direct_num_workers", "2", "--direct_running_mode", "multi_processing"]


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Eight demo clips of real instrument audio, a file that is not audio and an empty one."""
    from airtf.demo import sets as demo

    made = tmp_path_factory.mktemp("demo") / "openmic"
    demo.render_openmic(made, clips=8, seed=5)
    folder = tmp_path_factory.mktemp("clips")
    for path in sorted((made / "audio").rglob("*.ogg")):
        shutil.copy(path, folder / path.name)
    (folder / "broken.ogg").write_text("not audio")
    (folder / "empty.wav").write_bytes(b"")
    return folder


def extract(*arguments):
    return extract_cli.main(["--weights", "random", "--quiet", *map(str, arguments)])


def failures(capsys):
    return sorted(line for line in capsys.readouterr().err.splitlines() if line.startswith("airtf-extract: error:"))


def assert_same_as_local(clips, tmp_path, capsys, *runner_arguments):
    """Extract ``clips`` locally into tmp_path/local and with ``runner_arguments`` into tmp_path/beam:
    the same summary, the same failures, byte-identical outputs."""
    assert extract(clips, "--out", tmp_path / "local") == 1
    local_failures = failures(capsys)
    assert extract(clips, "--out", tmp_path / "beam", *runner_arguments) == 1
    printed = capsys.readouterr()
    beam_failures = sorted(line for line in printed.err.splitlines() if line.startswith("airtf-extract: error:"))
    assert len(local_failures) == 2 and beam_failures == local_failures
    assert f"wrote 8 files (80 examples) to {tmp_path / 'beam' / 'embedding'}" in printed.out
    local = sorted(path.name for path in (tmp_path / "local" / "embedding").iterdir())
    written = sorted(path.name for path in (tmp_path / "beam" / "embedding").glob("*.json"))
    assert written == local and len(local) == 8
    for name in local:
        assert (tmp_path / "beam" / "embedding" / name).read_bytes() == (tmp_path / "local" / "embedding" /
                                                                        name).read_bytes()


@needs_beam
def test_two_worker_processes_write_what_the_local_path_writes(clips, tmp_path, capsys):
    assert_same_as_local(clips, tmp_path, capsys, "--runner", "direct", *TWO_PROCESSES)
    [letters] = (tmp_path / "beam" / "embedding").glob("airtf-extract-failed-*.tsv")
    assert sorted(line.split("\t")[0] for line in letters.read_text().splitlines()) == [
        str(clips / "broken.ogg"), str(clips / "empty.wav")]


def outputs(folder):
    """The finished outputs in ``folder``: not the temporaries (``.airtf-partial...``) of files being written."""
    return [path for path in folder.glob("*.json") if not path.name.startswith(".")]


KILLED_RUN = """
import sys
from airtf.cli import extract
sys.exit(extract.main(sys.argv[1:]))
"""


@needs_beam
def test_a_killed_pipeline_rerun_finishes_the_rest_and_redoes_nothing(clips, tmp_path, capsys):
    many = tmp_path / "many"
    many.mkdir()
    for copy in range(4):  # 32 clips: the kill lands part way
        for path in sorted(clips.glob("*.ogg"))[:-1]:
            shutil.copy(path, many / f"{copy}-{path.name}")
    out = tmp_path / "out" / "embedding"
    command = [sys.executable, "-c", KILLED_RUN, "--weights", "random", str(many), "--out", str(tmp_path / "out"),
               "--runner", "direct", *TWO_PROCESSES]
    process = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while len(outputs(out)) < 4 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    before = {path.name: path.stat().st_mtime_ns for path in outputs(out)}
    assert 4 <= len(before) < 32, len(before)  # a temporary of a file being written may be left: the rerun clears it
    assert extract(many, "--out", tmp_path / "out", "--runner", "direct", *TWO_PROCESSES) == 0
    printed = capsys.readouterr().out
    assert f"wrote {32 - len(before)} files" in printed and f"kept {len(before)} existing" in printed
    assert len(outputs(out)) == 32
    assert all((out / name).stat().st_mtime_ns == mtime for name, mtime in before.items())
    assert not list(out.glob(".airtf-partial*"))


@needs_beam
def test_tfrecord_output_holds_sequence_examples_in_audiosets_layout(clips, tmp_path, official_pca, capsys):
    import tensorflow as tf

    assert extract(clips, "--out", tmp_path / "npz", "--format", "npz", "--output", "pca") == 1
    assert extract(clips, "--out", tmp_path / "records", "--format", "tfrecord", "--output", "pca",
                   "--runner", "direct") == 1
    capsys.readouterr()
    shards = sorted((tmp_path / "records" / "pca").glob("features-*.tfrecord"))
    spec = ({"video_id": tf.io.FixedLenFeature([], tf.string),
             "start_time_seconds": tf.io.FixedLenFeature([], tf.float32),
             "end_time_seconds": tf.io.FixedLenFeature([], tf.float32)},
            {"audio_embedding": tf.io.FixedLenSequenceFeature([], tf.string)})
    clips_read = {}
    for record in tf.data.TFRecordDataset([str(shard) for shard in shards]):
        context, lists = tf.io.parse_single_sequence_example(record, *spec)
        rows = [np.frombuffer(row, np.uint8) for row in lists["audio_embedding"].numpy()]
        clips_read[context["video_id"].numpy().decode()] = (np.stack(rows), float(context["end_time_seconds"]))
    expected = {path.stem: read_arrays(path, "rerun airtf-extract")["features"] for path in (tmp_path / "npz" / "pca").glob("*.npz")}
    assert sorted(clips_read) == sorted(expected) and len(expected) == 8
    for stem, (features, end) in clips_read.items():
        np.testing.assert_array_equal(features, expected[stem])
        assert end == pytest.approx(0.96 * len(features))
    [letters] = (tmp_path / "records" / "pca").glob("airtf-extract-failed-*.tsv")
    assert sorted(line.split("\t")[0] for line in letters.read_text().splitlines()) == [
        str(clips / "broken.ogg"), str(clips / "empty.wav")]


@needs_beam
def test_a_bundle_longer_than_a_run_is_extracted_in_runs(clips, tmp_path, capsys, monkeypatch):
    from airtf.features import extract_beam

    monkeypatch.setattr(extract_beam, "FILES_PER_RUN", 3)  # 10 files in one bundle: runs of 3, 3, 3, then 1
    assert_same_as_local(clips, tmp_path, capsys, "--runner", "direct")


@needs_beam
def test_a_file_list_names_the_files_and_comments_are_skipped(clips, tmp_path, capsys):
    good = sorted(clips.glob("*.ogg"))[:3]
    listing = tmp_path / "files.txt"
    listing.write_text("# three clips\n" + "\n".join(map(str, good)) + "\n\n")
    assert extract("--file-list", listing, "--out", tmp_path / "out", "--runner", "direct") == 0
    assert sorted(path.stem for path in (tmp_path / "out" / "embedding").glob("*.json")) == sorted(
        path.stem for path in good)
    listing.write_text(f"{good[0]}\n{tmp_path / 'elsewhere' / good[0].name}\n")
    assert extract("--file-list", listing, "--out", tmp_path / "other", "--runner", "direct") == 2
    assert "would write the same output" in capsys.readouterr().err


def elsewhere_file_system():
    """A Beam file system of scheme elsewhere:// over the local disk, as gs:// or s3:// are file systems
    other than the local one; Beam finds it by its scheme once it is defined (in this process only)."""
    from apache_beam.io.localfilesystem import LocalFileSystem

    class Elsewhere(LocalFileSystem):
        opened, options = [], []

        def __init__(self, pipeline_options):
            super().__init__(pipeline_options)
            Elsewhere.options.append(pipeline_options)

        @classmethod
        def scheme(cls):
            return "elsewhere"

        def open(self, path, *args, **kwargs):
            Elsewhere.opened.append(path)
            return super().open(path.removeprefix("elsewhere://"), *args, **kwargs)

    return Elsewhere


@needs_beam
def test_files_on_another_file_system_are_copied_and_named_as_listed(clips, tmp_path, capsys):
    elsewhere = elsewhere_file_system()
    good = sorted(clips.glob("*.ogg"))[:3]
    listed = [f"elsewhere://{path}" for path in [*good, clips / "broken.ogg", tmp_path / "gone.ogg"]]
    listing = tmp_path / "files.txt"
    listing.write_text("\n".join(listed) + "\n")
    assert extract(*good, "--out", tmp_path / "local") == 0
    assert extract("--file-list", f"elsewhere://{listing}", "--out", tmp_path / "beam", "--runner", "direct",
                   "--", "--direct_num_workers", "1") == 1
    printed = capsys.readouterr()
    assert f"elsewhere://{listing}" in elsewhere.opened and set(listed) <= set(elsewhere.opened)
    assert elsewhere.options[0].get_all_options()["direct_num_workers"] == 1  # the list read with Beam's options
    assert "wrote 3 files (30 examples)" in printed.out
    for path in (tmp_path / "local" / "embedding").iterdir():
        assert (tmp_path / "beam" / "embedding" / path.name).read_bytes() == path.read_bytes()
    [letters] = (tmp_path / "beam" / "embedding").glob("airtf-extract-failed-*.tsv")
    reasons = dict(line.split("\t", 1) for line in letters.read_text().splitlines())
    assert sorted(reasons) == sorted(listed[3:])
    assert reasons[listed[4]].startswith(f"{listed[4]}: cannot read it")
    assert reasons[listed[3]].startswith(listed[3]) and "airtf-beam-" not in reasons[listed[3]]  # not the copy


@needs_beam
@pytest.mark.parametrize("listing, message", [
    ("{tmp}/missing.txt", "{tmp}/missing.txt: no such file list; give a file of audio paths, one a line"),
    ("nowhere://bucket/files.txt", "nowhere://bucket/files.txt: cannot read the file list (Unable to get filesystem"),
    ("{tmp}/binary.txt", "{tmp}/binary.txt: cannot read the file list ('utf-8' codec can't decode"),
    ("{tmp}/blank.txt", "{tmp}/blank.txt: the file list names no audio file; write one path a line"),
])
def test_a_file_list_that_cannot_be_read_is_one_line_naming_it(listing, message, tmp_path, capsys):
    (tmp_path / "binary.txt").write_bytes(bytes([0x80, 0xd0, 0xff]) * 10)
    (tmp_path / "blank.txt").write_text("# nothing yet\n\n")
    arguments = ["--file-list", listing.format(tmp=tmp_path), "--out", tmp_path / "out", "--runner", "direct"]
    assert extract(*arguments) == 2
    printed = capsys.readouterr().err
    assert "Traceback" not in printed
    error = printed.strip().splitlines()[-1]
    assert error.startswith("airtf-extract: error: " + message.format(tmp=tmp_path)), error


PORTABLE_SERVICES = """
from concurrent import futures

import grpc
from apache_beam.portability.api import beam_fn_api_pb2_grpc
from apache_beam.runners.portability.local_job_service import LocalJobServicer
from apache_beam.runners.worker.worker_pool_main import BeamFnExternalWorkerPoolServicer

job_port = LocalJobServicer().start_grpc_server(0)
pool = grpc.server(futures.ThreadPoolExecutor(8))
pool_port = pool.add_insecure_port("127.0.0.1:0")
beam_fn_api_pb2_grpc.add_BeamFnExternalWorkerPoolServicer_to_server(BeamFnExternalWorkerPoolServicer(), pool)
pool.start()
print(job_port, pool_port, flush=True)
pool.wait_for_termination()
"""


@needs_beam
def test_the_portable_runner_gives_the_same_outputs_through_a_job_server(clips, tmp_path, capsys):
    """--runner portable, Flink's and Spark's way in: the job goes to a job server (Beam's Python one on
    localhost) and runs on an external worker pool, as a cluster's SDK workers run beside it."""
    services = subprocess.Popen([sys.executable, "-c", PORTABLE_SERVICES], stdout=subprocess.PIPE, text=True,
                                stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        job_port, pool_port = services.stdout.readline().split()
        assert_same_as_local(clips, tmp_path, capsys, "--runner", "portable", "--", "--job_endpoint",
                             f"localhost:{job_port}", "--environment_type", "EXTERNAL", "--environment_config",
                             f"127.0.0.1:{pool_port}")
    finally:
        os.killpg(services.pid, signal.SIGKILL)
        services.wait()


@needs_beam
def test_a_job_endpoint_where_nothing_listens_fails_at_once(clips, tmp_path, capsys):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    start = time.monotonic()
    assert extract(clips, "--out", tmp_path, "--runner", "portable", "--", "--job_endpoint", f"127.0.0.1:{port}") == 2
    assert time.monotonic() - start < 30
    assert f"no job server answers at 127.0.0.1:{port} (--job_endpoint)" in capsys.readouterr().err
    assert not list(tmp_path.rglob("*.*"))  # nothing written


@pytest.mark.parametrize("arguments, message", [
    (["{clips}", "--format", "tfrecord"], "go with --runner"),
    (["--runner", "direct"], "give audio files or folders, or (with --runner) --file-list"),
    (["{clips}", "--", "--direct_num_workers", "2"], "go with --runner"),
    (["{clips}", "--runner", "dataflow", "--out", "gs://bucket/features"], "for a bucket use --format tfrecord"),
])
def test_beam_options_without_a_runner_are_refused(arguments, message, clips, tmp_path, capsys):
    with pytest.raises(SystemExit):
        extract_cli.main(["--out", str(tmp_path), *(argument.format(clips=clips) for argument in arguments)])
    assert message in capsys.readouterr().err


@pytest.mark.skipif(HAVE_BEAM, reason="apache-beam is installed here")
def test_without_the_extra_the_runner_says_how_to_install_it(clips, tmp_path, capsys):
    assert extract(clips, "--out", tmp_path, "--runner", "direct") == 2
    assert "pip install 'airtf[beam]'" in capsys.readouterr().err
