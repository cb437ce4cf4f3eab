"""One writer per run directory: real processes refused at once, killed holders taken over, results untouched."""

import errno
import fcntl
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from airtf.errors import WriteError
from airtf.support import locks
from test_evaluate import eval_args, write_release

HOLD = """
import sys, time
from airtf.errors import WriteError
from airtf.support import locks
with locks.holding(sys.argv[1], sys.argv[2], beside=sys.argv[3] == "beside"):
    print("held", flush=True)
    time.sleep(600)
"""


def holder(folder, command="airtf-eval", beside=False):
    """A process holding the lock of ``folder``, started and holding when this returns."""
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(folder), command, "beside" if beside else "in"],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "held\n"
    return process


def stop(process):
    process.kill()
    process.wait()


def test_a_second_holder_is_refused_naming_the_first(tmp_path):
    first = holder(tmp_path / "run")
    try:
        with pytest.raises(locks.FolderInUseError, match=rf"run: in use by airtf-eval \(pid {first.pid} on "
                                                         r".*, since \d{4}-\d\d-\d\d .*\); wait for it to end"):
            with locks.holding(tmp_path / "run", "airtf-eval"):
                pass
    finally:
        stop(first)


def test_the_lock_of_a_process_killed_with_kill_9_is_taken_over(tmp_path):
    killed = holder(tmp_path / "run")
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert (tmp_path / "run" / locks.LOCK_NAME).is_file()  # left behind, recording the dead holder
    with locks.holding(tmp_path / "run", "airtf-pretrain"):
        recorded = json.loads((tmp_path / "run" / locks.LOCK_NAME).read_text())
        assert recorded["pid"] == os.getpid() and recorded["command"] == "airtf-pretrain"
    assert not (tmp_path / "run" / locks.LOCK_NAME).exists()


def test_letting_go_removes_the_lock_file_and_only_the_folders_it_made(tmp_path):
    (tmp_path / "kept").mkdir()
    for folder in (tmp_path / "kept", tmp_path / "new" / "run"):
        with locks.holding(folder, "airtf-eval"):
            with locks.holding(folder, "airtf-eval"):  # the same process may ask again
                pass
            assert (folder / locks.LOCK_NAME).is_file()  # the inner block does not let go
        assert not (folder / locks.LOCK_NAME).exists()
    assert (tmp_path / "kept").is_dir() and not (tmp_path / "new").exists()
    with locks.holding(tmp_path / "export", "airtf-export", beside=True):
        assert (tmp_path / f"{locks.LOCK_NAME}.export").is_file() and not (tmp_path / "export").exists()
    assert list(tmp_path.iterdir()) == [tmp_path / "kept"]


def test_a_file_system_that_cannot_lock_is_said_and_the_command_goes_on(tmp_path, monkeypatch):
    def cannot(descriptor, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", cannot)
    with pytest.warns(locks.LockWarning, match="cannot lock .*nothing stops a second command"):
        with locks.holding(tmp_path / "run", "airtf-eval"):
            pass


def test_a_read_only_folder_is_one_write_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(WriteError, match="file: is a file, not a folder"):
        with locks.holding(tmp_path / "file", "airtf-eval"):
            pass


def command_line(module, *arguments):
    return [sys.executable, "-m", f"airtf.cli.{module}", *arguments]


def wait_for_lock(folder, process, timeout=120):
    """Poll until ``process`` holds the lock of ``folder``."""
    deadline = time.monotonic() + timeout
    path = folder / locks.LOCK_NAME
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            if json.loads(path.read_text())["pid"] == process.pid:
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    raise AssertionError(f"{process.args} never took the lock of {folder}")


def refused(arguments, first):
    """Run a second command over the first's folder: it must fail at once, in one line naming the first."""
    started = time.monotonic()
    second = subprocess.run(arguments, capture_output=True, text=True, timeout=120)
    assert second.returncode == 2, second.stderr
    assert len(second.stderr.strip().splitlines()) == 1
    assert f"in use by {first} (pid " in second.stderr
    return time.monotonic() - started


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    return write_release(tmp_path_factory.mktemp("openmic"))


@pytest.mark.slow
def test_two_airtf_eval_on_one_out_the_second_is_refused_and_the_first_is_complete(release, tmp_path):
    arguments = command_line("eval", *eval_args(release, tmp_path / "run", "--seeds", "0"))
    first = subprocess.Popen(arguments, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_lock(tmp_path / "run", first)
        seconds = refused(arguments, "airtf-eval")
        assert first.poll() is None  # still running when the second gave up
        assert seconds < 15  # before TensorFlow loads (its import alone takes 4-6 s here)
    finally:
        out, err = first.communicate(timeout=600)
    assert first.returncode == 0, err
    alone = subprocess.run(command_line("eval", *eval_args(release, tmp_path / "alone", "--seeds", "0")),
                           capture_output=True, text=True)
    assert alone.returncode == 0, alone.stderr
    assert (json.loads((tmp_path / "run" / "scores.json").read_text())
            == json.loads((tmp_path / "alone" / "scores.json").read_text()))
    assert not (tmp_path / "run" / locks.LOCK_NAME).exists()


@pytest.mark.slow
def test_a_rerun_takes_over_the_run_directory_of_a_killed_airtf_eval(release, tmp_path):
    arguments = command_line("eval", *eval_args(release, tmp_path / "run", "--seeds", "0"))
    first = subprocess.Popen(arguments, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_lock(tmp_path / "run", first)
    first.send_signal(signal.SIGKILL)
    first.wait()
    rerun = subprocess.run(arguments, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    assert (tmp_path / "run" / "scores.json").is_file()


@pytest.mark.slow
def test_two_airtf_pretrain_on_one_out_the_second_is_refused(nsynth_dir, tmp_path):
    arguments = command_line("pretrain", "--objective", "den-add", "--data", str(nsynth_dir), "--out",
                             str(tmp_path / "run"), "--limit", "8", "--batch-size", "4", "--epochs", "1")
    first = subprocess.Popen(arguments, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_lock(tmp_path / "run", first)
        refused(arguments, "airtf-pretrain")
    finally:
        out, err = first.communicate(timeout=600)
    assert first.returncode == 0, err
    assert (tmp_path / "run" / "vggish.weights.h5").is_file()


@pytest.mark.parametrize("module, arguments, beside", [
    ("export", ["RUN", "--out", "{folder}"], True),
    ("data", ["download", "openmic", "--out", "{folder}", "--mirror", "http://127.0.0.1:9"], False)])
def test_export_and_download_refuse_a_folder_in_use(module, arguments, beside, tmp_path):
    folder = tmp_path / "target"
    command = {"export": "airtf-export", "data": "airtf-data download"}[module]
    first = holder(folder, command, beside=beside)
    try:
        refused(command_line(module, *(argument.format(folder=folder) for argument in arguments)), command)
    finally:
        stop(first)
