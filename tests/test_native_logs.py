"""TensorFlow's native log lines are kept out of a command's output; everything else passes unchanged."""

import os
import subprocess
import sys
import threading

import pytest

from airtf.support import native_logs

NATIVE = (b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
          b"I0000 00:00:1796199116.503897   11590 port.cc:153] oneDNN custom operations are on.\n"
          b"I0000 00:00:1796199116.726920   10763 cpu_feature_guard.cc:227] This TensorFlow binary is optimized.\n"
          b"To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow.\n"
          b"W0000 00:00:1796199117.1   11590 service.cc:145] XLA service 0x55 initialized\n"
          b"2026-12-02 06:09:31.920014: I tensorflow/core/platform/cpu_feature_guard.cc:210] This binary\n"
          b"Note: Illegal Audio-MPEG-Header 0x00000000 at offset 6.\n"
          b"Note: Trying to resync...\n"
          b"Note: Hit end of (available) data during resync.\n"
          b"E0000 00:00:1796199118.2   11590 cuda_fft.cc:479] Unable to register cuFFT factory\n"
          b"F0000 00:00:1796199118.3   11590 check.cc:1] Check failed: a fatal error\n")
OURS = (b"airtf-extract: warning: clip.wav: the audio is digital silence\n"
        b"\r 50%|#####     | 1/2 [00:01<00:01, 1.0file/s]"
        b"\r100%|##########| 2/2 [00:02<00:00, 1.0file/s]\n"
        b"To enable anything else, read the README\n"
        b"Note: a line of ours that starts like libmpg123's\n"
        b"Epoch 1/3\n")


def filtered(data, level, chunk=7):
    """What the filter passes on of ``data`` written in chunks of ``chunk`` bytes."""
    source_read, source_write = os.pipe()
    target_read, target_write = os.pipe()
    pump = threading.Thread(target=native_logs._pump, args=(source_read, target_write, level))
    pump.start()
    for start in range(0, len(data), chunk):
        os.write(source_write, data[start:start + chunk])
    os.close(source_write)
    pump.join(timeout=10)
    os.close(target_write)
    with os.fdopen(target_read, "rb") as stream:
        return stream.read()


@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_native_lines_below_the_level_go_and_ours_stay_whole(chunk):
    lines = NATIVE.splitlines(keepends=True)
    kept = filtered(b"".join(lines[:2]) + OURS + b"".join(lines[2:]), level=3, chunk=chunk)
    assert kept == OURS + NATIVE.splitlines(keepends=True)[-1]  # only the fatal line stays
    assert filtered(NATIVE, level=2, chunk=chunk).count(b"\n") == 2  # errors and fatal
    assert filtered(NATIVE, level=0, chunk=chunk) == NATIVE


def test_a_progress_update_is_passed_on_before_its_line_ends():
    source_read, source_write = os.pipe()
    target_read, target_write = os.pipe()
    pump = threading.Thread(target=native_logs._pump, args=(source_read, target_write, 3), daemon=True)
    pump.start()
    os.write(source_write, b"\r 50%|#####     | 1/2")
    assert os.read(target_read, 100) == b"\r 50%|#####     | 1/2"  # not held back for a newline
    os.close(source_write)
    pump.join(timeout=10)
    os.close(target_write)
    os.close(target_read)


@pytest.mark.slow
def test_a_command_prints_no_native_log_line(openmic_clip, tmp_path):
    done = subprocess.run([sys.executable, "-m", "airtf.cli.extract", str(openmic_clip), "--out", str(tmp_path),
                           "--weights", "random"], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("wrote 1 files (10 examples)")
    assert "100%" in done.stderr  # the progress bar passes
    assert not [line for line in done.stderr.splitlines() if native_logs._NATIVE_LINE.match(line.encode())]
