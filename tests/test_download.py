"""airtf-data download against archives served from 127.0.0.1: verify, resume, refuse, unpack once."""

import contextlib
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
import types

import numpy as np
import pytest
import tensorflow as tf

from airtf.cli import data as data_cli, eval as eval_cli
from airtf.datasets import nsynth, releases
from airtf.support import files
from airtf.support.archives import ArchiveError
from airtf.support.downloads import DownloadError
from test_evaluate import eval_args, write_release
from test_nsynth import make_note, serialized


def tar_bytes(members, mode="w:gz"):
    """A tar archive of {name: bytes} (a bytes value) or TarInfo tweaks (a callable on the TarInfo)."""
    stream = io.BytesIO()
    with tarfile.open(fileobj=stream, mode=mode) as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            if callable(content):
                content(info)
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return stream.getvalue()


def openmic_tree(root):
    """{member name: bytes} of a small archive laid out like the OpenMIC-2018 release."""
    write_release(root)
    return {f"openmic-2018/{path.relative_to(root)}": path.read_bytes()
            for path in sorted(root.rglob("*")) if path.is_file()}


def publish(monkeypatch, server, content, name="openmic-2018-v1.0.0.tgz", checksum="md5", dataset="openmic",
            format="jsonwav"):
    """Serve ``content`` as ``name`` and make the manifest name it with its size and checksum."""
    server.files[name] = content
    published = releases.manifest()
    entry = {"url": f"{server.url.rstrip('/')}/{name}", "bytes": len(content)}
    if dataset == "nsynth":
        entry["into"] = published["nsynth"]["formats"][format]["test"].get("into", "")
    if checksum:
        entry[checksum] = hashlib.new(checksum, content).hexdigest()
    published[dataset]["formats"] = {"release": {"all": entry}} if dataset == "openmic" else {format: {"test": entry}}
    monkeypatch.setattr(releases, "manifest", lambda: published)
    return entry


@pytest.fixture
def archive(tmp_path):
    return tar_bytes(openmic_tree(tmp_path / "made"))


def test_a_good_archive_is_verified_unpacked_and_then_left_alone(server, archive, tmp_path, monkeypatch, capsys):
    publish(monkeypatch, server, archive)
    out = tmp_path / "openmic"
    assert data_cli.main(["download", "openmic", "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "downloaded" in printed and "verified, unpacked" in printed and "archive deleted" in printed
    assert (out / "openmic-2018.npz").is_file() and (out / "partitions" / "split01_train.csv").is_file()
    assert not list((out / "archives").iterdir())  # deleted after the verified unpack
    assert not [path for path in out.iterdir() if path.name.startswith(".airtf-unpacking")]
    requests = len(server.requests)
    assert data_cli.main(["download", "openmic", "--out", str(out), "--quiet"]) == 0
    assert "nothing to do" in capsys.readouterr().out and len(server.requests) == requests
    assert data_cli.main(["check", "--openmic", str(out)]) == 0


def test_keep_archives_keeps_the_verified_archive(server, archive, tmp_path, monkeypatch):
    publish(monkeypatch, server, archive)
    releases.fetch("openmic", tmp_path / "d", keep_archives=True)
    assert (tmp_path / "d" / "archives" / "openmic-2018-v1.0.0.tgz").read_bytes() == archive


def test_a_wrong_checksum_is_one_line_and_nothing_is_unpacked(server, archive, tmp_path, monkeypatch, capsys):
    entry = publish(monkeypatch, server, archive)
    entry["md5"] = "0" * 32
    out = tmp_path / "openmic"
    assert data_cli.main(["download", "openmic", "--out", str(out), "--quiet"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert f"md5 {hashlib.md5(archive).hexdigest()}, expected {'0' * 32}" in error
    assert "openmic-2018-v1.0.0.tgz" in error
    assert sorted(path.name for path in out.iterdir()) == ["archives"]


@pytest.mark.parametrize("member", [
    ("openmic-2018/../../escaped.txt", b"x"),
    ("/tmp/absolute.txt", b"x"),
    ("openmic-2018/link", lambda info: (setattr(info, "type", tarfile.SYMTYPE), setattr(info, "linkname", "../../.."))),
    ("openmic-2018/device", lambda info: setattr(info, "type", tarfile.CHRTYPE)),
])
def test_an_unsafe_member_is_refused_with_nothing_written(server, tmp_path, monkeypatch, member):
    name, content = member
    publish(monkeypatch, server, tar_bytes({"openmic-2018/class-map.json": b"{}", name: content}))
    out = tmp_path / "deep" / "openmic"
    with pytest.raises(ArchiveError, match=f"refused member {name!r}"):
        releases.fetch("openmic", out)
    assert sorted(path.name for path in out.iterdir()) == [".airtf-download.json", "archives"]
    assert sorted(path.name for path in (tmp_path / "deep").iterdir()) == ["openmic"]
    assert not (tmp_path / "escaped.txt").exists()


def test_a_dropped_connection_resumes_with_a_range_request(server, archive, tmp_path, monkeypatch):
    publish(monkeypatch, server, archive)
    server.drop_after = len(archive) // 3
    out = tmp_path / "openmic"
    with pytest.raises(DownloadError, match="rerun the same command to continue"):
        releases.fetch("openmic", out)
    partial = out / "archives" / "openmic-2018-v1.0.0.tgz.partial"
    assert partial.stat().st_size == len(archive) // 3
    [outcome] = releases.fetch("openmic", out)
    assert outcome.action == "resumed" and (out / "openmic-2018.npz").is_file()
    assert server.requests[-1] == ("GET", "openmic-2018-v1.0.0.tgz", f"bytes={len(archive) // 3}-")


def test_a_server_without_range_support_starts_over_cleanly(server, archive, tmp_path, monkeypatch):
    publish(monkeypatch, server, archive)
    server.ranges = False
    server.drop_after = 5000
    out = tmp_path / "openmic"
    with pytest.raises(DownloadError):
        releases.fetch("openmic", out)
    [outcome] = releases.fetch("openmic", out)
    assert server.requests[-1][2] == "bytes=5000-"  # asked for the rest, was sent the whole file
    assert outcome.action == "downloaded" and (out / "openmic-2018.npz").is_file()


def test_a_missing_file_is_one_line_naming_the_address(server, tmp_path, monkeypatch, capsys):
    publish(monkeypatch, server, b"")
    del server.files["openmic-2018-v1.0.0.tgz"]
    assert data_cli.main(["download", "openmic", "--out", str(tmp_path / "d"), "--quiet"]) == 2
    error = capsys.readouterr().err
    assert f"{server.url}openmic-2018-v1.0.0.tgz: HTTP 404" in error and len(error.strip().splitlines()) == 1


def test_an_archive_without_a_published_checksum_gets_one_recorded(server, tmp_path, monkeypatch):
    content = tar_bytes({"nsynth-test/examples.json": b"{}"})
    publish(monkeypatch, server, content, name="nsynth-test.jsonwav.tar.gz", checksum=None, dataset="nsynth")
    out = tmp_path / "nsynth"
    [outcome] = releases.fetch("nsynth", out, splits=["test"])
    assert f"recorded {len(content)} bytes and sha256 {hashlib.sha256(content).hexdigest()}" in outcome.message
    record = json.loads((out / releases.RECORD_NAME).read_text())
    assert record["nsynth-test.jsonwav.tar.gz"]["sha256"] == hashlib.sha256(content).hexdigest()
    assert (out / "nsynth-test" / "examples.json").is_file()


def test_the_nsynth_tfrecord_tar_becomes_a_folder_of_shards_that_loads(server, tmp_path, monkeypatch):
    notes = [make_note(index, np.random.default_rng(index)) for index in range(2)]
    shards = {}
    for index, (fields, audio) in enumerate(notes):
        path = tmp_path / f"shard{index}"
        with tf.io.TFRecordWriter(str(path)) as writer:
            writer.write(serialized(fields, audio))
        shards[f"nsynth-test.tfrecord-{index:05d}-of-00002"] = path.read_bytes()
    publish(monkeypatch, server, tar_bytes(shards, mode="w"), name="nsynth-test.tfrecord.tar", checksum="sha256",
            dataset="nsynth", format="tfrecord")
    out = tmp_path / "nsynth"
    [outcome] = releases.fetch("nsynth", out, format="tfrecord", splits=["test"])
    assert sorted(path.name for path in (out / "nsynth-test.tfrecord").iterdir()) == sorted(shards)
    assert "unpacked into" in outcome.message and "nsynth-test.tfrecord" in outcome.message
    labels = nsynth.NSynth(out).labels("test")
    assert list(labels["note_str"]) == [fields["note_str"] for fields, _ in notes]


def test_too_little_disk_is_refused_before_downloading(server, archive, tmp_path, monkeypatch):
    publish(monkeypatch, server, archive)
    monkeypatch.setattr(files.shutil, "disk_usage", lambda path: types.SimpleNamespace(free=len(archive)))
    with pytest.raises(DownloadError, match=r"needs \S+ [kMG]B \(archives and unpacked files\), \S+ [kMG]B free"):
        releases.fetch("openmic", tmp_path / "d")
    assert not server.requests


KILLED_DOWNLOAD = """
import json, sys
from airtf.datasets import nsynth, releases
published = json.loads(sys.argv[2])
releases.manifest = lambda: published
releases.fetch("openmic", sys.argv[1])
"""


def test_kill_9_during_a_download_then_a_rerun_resumes(server, archive, tmp_path, monkeypatch):
    publish(monkeypatch, server, archive)
    server.delay = 0.05  # 4 KiB every 50 ms: the kill lands mid-file
    out = tmp_path / "openmic"
    partial = out / "archives" / "openmic-2018-v1.0.0.tgz.partial"
    process = subprocess.Popen([sys.executable, "-c", KILLED_DOWNLOAD, str(out), json.dumps(releases.manifest())])
    deadline = time.monotonic() + 60
    while not (partial.is_file() and partial.stat().st_size > 8192) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    have = partial.stat().st_size
    assert 0 < have < len(archive)
    server.delay = 0.0
    [outcome] = releases.fetch("openmic", out)
    assert outcome.action == "resumed" and server.requests[-1][2] == f"bytes={have}-"
    assert (out / "openmic-2018.npz").is_file()


@pytest.mark.slow
def test_downloaded_release_checks_and_trains_end_to_end(server, archive, tmp_path, monkeypatch, capsys):
    entry = publish(monkeypatch, server, archive)
    entry["url"] = "https://unreachable.invalid/openmic-2018-v1.0.0.tgz"  # only --mirror reaches it
    out = tmp_path / "openmic"
    assert data_cli.main(["download", "openmic", "--out", str(out), "--mirror", server.url, "--quiet"]) == 0
    assert data_cli.main(["check", "--openmic", str(out)]) == 0
    with contextlib.redirect_stdout(io.StringIO()):
        assert eval_cli.main(eval_args(out, tmp_path / "run")) == 0
    assert json.loads((tmp_path / "run" / "scores.json").read_text())["mean"]["overall"]["f1"] >= 0


def test_a_mirror_offering_another_size_is_refused_before_downloading(server, archive, tmp_path, monkeypatch):
    entry = publish(monkeypatch, server, archive)
    entry["bytes"] = len(archive) + 1
    with pytest.raises(DownloadError, match=f"offers {len(archive)} bytes, the published file has {len(archive) + 1}"):
        releases.fetch("openmic", tmp_path / "d")
    assert not list((tmp_path / "d" / "archives").iterdir())
