"""Tests of airtf.audio against soundfile + resampy computed here, as the official VGGish does."""

from pathlib import Path

import numpy as np
import pytest
import resampy
import soundfile
import tensorflow as tf

from airtf import audio, params
from airtf.audio import decoding, resampling
from airtf.errors import AudioError


def stereo_signal(sample_rate, seconds, seed=0):
    """Two different tones plus noise, peak below 0.9, shape (frames, 2)."""
    time = np.arange(int(sample_rate * seconds)) / sample_rate
    noise = np.random.default_rng(seed).normal(0.0, 0.05, (len(time), 2))
    left = 0.5 * np.sin(2 * np.pi * 440.0 * time)
    right = 0.3 * np.sin(2 * np.pi * 1234.5 * time)
    return np.stack([left, right], axis=1) + noise


def write(path, sample_rate=44100, seconds=1.0, **kwargs):
    """Write ``stereo_signal`` to ``path`` with soundfile; returns (path, samples)."""
    samples = stereo_signal(sample_rate, seconds)
    soundfile.write(path, samples, sample_rate, **kwargs)
    return path, samples


def official(path):
    """What the official VGGish computes: int16 / 32768, channel mean, resampy."""
    samples, sample_rate = soundfile.read(path, dtype="int16")
    mono = (samples / 32768.0).mean(axis=1)
    return resampy.resample(mono, sample_rate, params.SAMPLE_RATE)


@pytest.fixture(scope="module")
def clip(openmic_clip):
    """The real OpenMIC-2018 clip: 10 s of 44.1 kHz stereo OGG/Vorbis."""
    return openmic_clip


# read ---------------------------------------------------------------------


@pytest.mark.parametrize("sample_rate", [44100, 22050, 8000])
def test_read_equals_official_vggish_reading(tmp_path, sample_rate):
    path, _ = write(tmp_path / "a.wav", sample_rate, subtype="PCM_16")
    waveform = audio.read(path)
    expected = official(path)
    assert waveform.dtype == np.float32
    assert waveform.shape == (16000,)  # 1 s
    np.testing.assert_allclose(waveform, expected, atol=1e-6, rtol=0)


def test_read_real_clip_equals_official_vggish_reading(clip):
    samples, sample_rate = soundfile.read(clip, dtype="float32")
    expected = resampy.resample(samples.mean(axis=1, dtype=np.float64), sample_rate, 16000)
    waveform = audio.read(clip)
    assert waveform.dtype == np.float32 and waveform.shape == (160000,)
    np.testing.assert_allclose(waveform, expected, atol=1e-6, rtol=0)


def test_read_int16_wav_at_16k_is_int16_over_32768(tmp_path):
    path, _ = write(tmp_path / "a.wav", 16000, subtype="PCM_16")
    int16, _ = soundfile.read(path, dtype="int16")
    expected = (int16[:, 0].astype(np.float64) + int16[:, 1]) / 2 / 32768
    np.testing.assert_array_equal(audio.read(path), expected.astype(np.float32))


@pytest.mark.parametrize(
    "name, kwargs, max_error",
    [
        ("u8.wav", {"subtype": "PCM_U8"}, 1 / 128),
        ("s16.wav", {"subtype": "PCM_16"}, 1 / 32768),
        ("s24.wav", {"subtype": "PCM_24"}, 1e-6),
        ("s32.wav", {"subtype": "PCM_32"}, 1e-6),
        ("f32.wav", {"subtype": "FLOAT"}, 1e-6),
        ("f64.wav", {"subtype": "DOUBLE"}, 1e-6),
        ("a.flac", {"subtype": "PCM_16"}, 1 / 32768),
        ("a.ogg", {"subtype": "VORBIS"}, None),
        ("a.mp3", {"format": "MP3"}, None),
    ],
)
def test_read_decodes_each_format_to_the_source(tmp_path, name, kwargs, max_error):
    path, samples = write(tmp_path / name, 16000, **kwargs)
    waveform = audio.read(path)
    source = samples.mean(axis=1)
    assert waveform.dtype == np.float32 and waveform.shape == source.shape
    if max_error is None:  # lossy: measured 0.02-0.03 rms; one sample late is 0.08
        assert np.sqrt(np.mean((waveform - source) ** 2)) < 0.05
    else:
        assert np.abs(waveform - source).max() <= max_error


@pytest.mark.parametrize("channels", [2, 3, 6, 8, 12])
def test_to_mono_is_numpys_float64_mean_bit_for_bit(channels):
    samples = np.random.default_rng(channels).standard_normal((10_000, channels)).astype(np.float32)
    expected = samples.mean(axis=1, dtype=np.float64).astype(np.float32)  # the official code's mean, then float32
    np.testing.assert_array_equal(audio.to_mono(samples), expected)


def test_to_mono_averages_channels_in_float32():
    samples = np.array([[0.5, -0.25], [1.0, 0.0]], dtype=np.float32)
    np.testing.assert_array_equal(audio.to_mono(samples), [0.125, 0.5])
    assert audio.to_mono(samples).dtype == np.float32
    np.testing.assert_array_equal(audio.to_mono(samples[:, :1]), [0.5, 1.0])
    assert audio.to_mono(np.array([1, 2], dtype=np.int16)).dtype == np.float32


def test_info_describes_real_clip(clip):
    assert audio.info(clip) == (44100, 2, 441000, "OGG", "VORBIS")


# resample -----------------------------------------------------------------


def test_resample_at_16k_returns_the_input_as_float32():
    waveform = np.linspace(-1, 1, 1000)
    resampled = audio.resample(waveform, 16000)
    assert resampled.dtype == np.float32
    np.testing.assert_array_equal(resampled, waveform.astype(np.float32))


@pytest.mark.parametrize("resampler", audio.RESAMPLERS)
@pytest.mark.parametrize(
    "sample_rate, frames", [(44100, 44101), (22050, 22051), (8000, 8001), (48000, 48002)]
)
def test_resample_length_is_resampys_with_either_resampler(resampler, sample_rate, frames):
    waveform = np.random.default_rng(0).normal(0, 0.1, frames)
    resampled = audio.resample(waveform, sample_rate, resampler=resampler)
    assert resampled.dtype == np.float32
    assert len(resampled) == int(frames * 16000 / sample_rate)


def test_resample_too_short_gives_no_samples():
    assert audio.resample(np.ones(2), 44100).shape == (0,)


COMMON_RATES = [44100, 48000, 22050, 32000, 8000]

# 16025 Hz: resampy's rounded times put some outputs on the previous input
# sample (a 6e-5 jump); 5512 Hz: on the next table entry.
IRREGULAR_RATES = [16025, 5512]


def uniform_noise(frames, seed=0):
    """float32-representable noise in [-1, 1], as float64."""
    noise = np.random.default_rng(seed).uniform(-1, 1, frames)
    return noise.astype(np.float32).astype(np.float64)


@pytest.mark.parametrize("sample_rate", COMMON_RATES + IRREGULAR_RATES)
@pytest.mark.parametrize("seconds", [1e-3, 0.01, 0.05, 3.0])  # shorter and longer than the filter
def test_polyphase_equals_resampy(sample_rate, seconds):
    waveform = uniform_noise(max(1, round(sample_rate * seconds)) + 3)
    expected = resampy.resample(waveform, sample_rate, 16000)
    plan = resampling._polyphase(sample_rate)
    assert plan is not None
    resampled = resampling._resample_polyphase(waveform, sample_rate, plan, len(expected))
    np.testing.assert_allclose(resampled, expected, atol=1e-9, rtol=0)
    public = audio.resample(waveform, sample_rate)
    assert public.dtype == np.float32
    np.testing.assert_allclose(public, expected, atol=1e-6, rtol=0)


def test_polyphase_equals_resampy_on_real_clip(clip):
    samples, sample_rate = soundfile.read(clip, dtype="float32")
    waveform = samples.mean(axis=1, dtype=np.float64)
    expected = resampy.resample(waveform, sample_rate, 16000)
    resampled = resampling._resample_polyphase(waveform, sample_rate, resampling._polyphase(sample_rate),
                                          len(expected))
    np.testing.assert_allclose(resampled, expected, atol=1e-9, rtol=0)


def test_irregular_rates_move_outputs_off_their_phase():
    """At these rates resampy's rounded times move some of 3 s of outputs off their phase."""
    length = 3 * 16000
    for sample_rate in IRREGULAR_RATES:
        irregular = resampling._irregular_outputs(sample_rate, length)[0]
        assert 0 < len(irregular) < length / 10
        assert not irregular.flags.writeable  # cached: shared by every block and file of this length


def test_resample_falls_back_to_resampy_for_rates_with_many_phases():
    assert resampling._polyphase(44101) is None  # 16000 phases
    waveform = uniform_noise(4410)
    expected = resampy.resample(waveform, 44101, 16000)
    np.testing.assert_allclose(audio.resample(waveform, 44101), expected, atol=1e-6, rtol=0)


def test_soxr_is_close_to_resampy_but_not_identical_on_real_clip(clip):
    exact = audio.read(clip)
    fast = audio.read(clip, resampler="soxr")
    error = np.abs(fast - exact)
    peak = np.abs(exact).max()
    # Measured 0.037 of peak, from the filters' different transition bands (7-7.8 kHz).
    assert 0 < error.max() < 0.05 * peak
    assert np.sqrt(np.mean(error**2)) < 0.03 * np.sqrt(np.mean(exact**2))


def test_soxr_agrees_with_resampy_in_the_passband():
    time = np.arange(44100) / 44100
    tone = 0.5 * np.sin(2 * np.pi * 1000.0 * time)
    exact = audio.resample(tone, 44100)
    fast = audio.resample(tone, 44100, resampler="soxr")
    inner = slice(200, -200)  # the two treat the signal's edges differently
    assert np.abs(fast[inner] - exact[inner]).max() < 1e-3


@pytest.mark.parametrize(
    "call",
    [
        lambda path: audio.read(path, resampler="librosa"),
        lambda path: audio.stream(path, resampler="librosa"),
        lambda path: audio.decode_tf(str(path), resampler="librosa"),
        lambda path: audio.resample(np.zeros(10), 44100, resampler="librosa"),
    ],
)
def test_unknown_resampler_lists_the_choices(tmp_path, call):
    path, _ = write(tmp_path / "a.wav")
    with pytest.raises(ValueError, match="resampy, soxr"):
        call(path)


# stream -------------------------------------------------------------------


@pytest.mark.parametrize(
    "sample_rate, resampler",
    [(44100, "resampy"), (22050, "resampy"), (8000, "resampy"), (16000, "resampy"), (44100, "soxr")],
)
def test_stream_concatenates_to_read(tmp_path, sample_rate, resampler):
    path, _ = write(tmp_path / "a.wav", sample_rate, seconds=20.3, subtype="FLOAT")
    blocks = list(audio.stream(path, block_seconds=3, resampler=resampler))
    whole = audio.read(path, resampler=resampler)
    assert len(blocks) == 7
    assert all(block.dtype == np.float32 for block in blocks)
    assert {len(block) for block in blocks[:-1]} == {48000}
    np.testing.assert_allclose(np.concatenate(blocks), whole, atol=1e-5, rtol=0)


def test_stream_real_clip_with_odd_block_length(clip):
    blocks = list(audio.stream(clip, block_seconds=1.234))
    np.testing.assert_allclose(np.concatenate(blocks), audio.read(clip), atol=1e-5, rtol=0)


def test_stream_reads_block_by_block(tmp_path, monkeypatch):
    path, _ = write(tmp_path / "a.wav", 44100, seconds=20, subtype="PCM_16")
    requested = []
    original_read = soundfile.SoundFile.read

    def spy(self, frames=-1, **kwargs):
        requested.append(frames)
        return original_read(self, frames, **kwargs)

    monkeypatch.setattr(soundfile.SoundFile, "read", spy)
    blocks = audio.stream(path, block_seconds=2)
    next(blocks)
    assert len(requested) == 1 and 0 < requested[0] < 3 * 44100
    list(blocks)
    assert all(0 < frames < 3 * 44100 for frames in requested)


# decode_tf ----------------------------------------------------------------


def decoded_in_dataset(paths, resampler="resampy"):
    """decode_tf mapped over ``paths`` in a tf.data pipeline (graph mode)."""
    dataset = tf.data.Dataset.from_tensor_slices([str(path) for path in paths])
    dataset = dataset.map(lambda path: audio.decode_tf(path, resampler=resampler))
    assert dataset.element_spec.shape.as_list() == [None]
    return [waveform.numpy() for waveform in dataset]


@pytest.fixture(scope="module")
def formats(tmp_path_factory, clip):
    """Files of each kind soundfile reads, and a truncated one."""
    folder = tmp_path_factory.mktemp("formats")
    kinds = {
        "s16.wav": {"subtype": "PCM_16"},
        "u8.wav": {"subtype": "PCM_U8"},
        "s24.wav": {"subtype": "PCM_24"},
        "f32.wav": {"subtype": "FLOAT"},
        "s32.wav": {"subtype": "PCM_32"},
        "a.flac": {"subtype": "PCM_24"},
        "a.mp3": {"format": "MP3"},
        "a.aiff": {"subtype": "PCM_16"},
    }
    paths = [clip] + [write(folder / name, 22050, **kwargs)[0] for name, kwargs in kinds.items()]
    full = (folder / "s16.wav").read_bytes()
    (folder / "truncated.wav").write_bytes(full[: len(full) * 2 // 3])
    return paths + [folder / "truncated.wav"]


def test_decode_tf_reads_every_file_as_read_does(formats, monkeypatch):
    read_by_soundfile = []
    original_read = audio.read

    def spy(path, **kwargs):
        read_by_soundfile.append(Path(path))
        return original_read(path, **kwargs)

    monkeypatch.setattr(decoding, "read", spy)
    for path, waveform in zip(formats, decoded_in_dataset(formats)):
        np.testing.assert_array_equal(waveform, original_read(path), err_msg=str(path))
    assert read_by_soundfile == list(formats)


def test_decode_tf_with_soxr_equals_read(clip):
    (waveform,) = decoded_in_dataset([clip], resampler="soxr")
    np.testing.assert_allclose(waveform, audio.read(clip, resampler="soxr"), atol=1e-5, rtol=0)


# errors -------------------------------------------------------------------


def truncated_clip(clip, folder, fraction):
    data = clip.read_bytes()
    path = folder / f"cut{fraction}.ogg"
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def nan_wav(folder):
    samples = stereo_signal(16000, 0.5)
    samples[100, 1] = np.nan
    soundfile.write(folder / "nan.wav", samples, 16000, subtype="FLOAT")
    return folder / "nan.wav"


def random_bytes_ogg(folder):
    (folder / "noise.ogg").write_bytes(np.random.default_rng(0).bytes(4096))
    return folder / "noise.ogg"


def empty_file(folder):
    (folder / "empty.ogg").touch()
    return folder / "empty.ogg"


def header_only_wav(folder):
    soundfile.write(folder / "header.wav", np.zeros((0, 2)), 16000)
    return folder / "header.wav"


def a_directory(folder):
    (folder / "dir.wav").mkdir()
    return folder / "dir.wav"


BAD_FILES = {
    "missing": (lambda folder, clip: folder / "missing.wav", "file not found"),
    "empty": (lambda folder, clip: empty_file(folder), "file is empty (0 bytes)"),
    "random bytes": (lambda folder, clip: random_bytes_ogg(folder), "cannot decode"),
    "cut in header": (lambda folder, clip: truncated_clip(clip, folder, 0.01), "cannot decode"),
    "cut before audio": (lambda folder, clip: truncated_clip(clip, folder, 0.05), "no audio frames"),
    "no frames": (lambda folder, clip: header_only_wav(folder), "no audio frames"),
    "directory": (lambda folder, clip: a_directory(folder), "is a directory"),
    "nan": (lambda folder, clip: nan_wav(folder), "contains NaN or Inf"),
}


@pytest.mark.parametrize("kind", BAD_FILES)
@pytest.mark.parametrize("reader", [audio.read, lambda path: list(audio.stream(path))])
def test_bad_file_raises_one_line_audio_error_naming_it(tmp_path, clip, kind, reader):
    make, reason = BAD_FILES[kind]
    path = make(tmp_path, clip)
    with pytest.raises(AudioError) as raised:
        reader(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: {reason}")
    assert "; " in message and "\n" not in message


@pytest.mark.parametrize("kind", ["missing", "no frames", "nan"])
def test_decode_tf_error_names_the_file_and_the_fix(tmp_path, clip, kind):
    make, reason = BAD_FILES[kind]
    path = make(tmp_path, clip)
    with pytest.raises(tf.errors.OpError, match=f"{path.name}: {reason}.*; "):
        decoded_in_dataset([path])


def test_stream_raises_at_the_call_for_a_file_it_cannot_open(tmp_path):
    with pytest.raises(AudioError, match="file not found"):
        audio.stream(tmp_path / "missing.wav")


def test_info_raises_audio_error(tmp_path):
    with pytest.raises(AudioError, match="noise.ogg: cannot decode .*supported formats"):
        audio.info(random_bytes_ogg(tmp_path))
