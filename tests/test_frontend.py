"""airtf.vggish.audio_converter against the plain-numpy reference in reference_frontend.py."""

import math
import warnings

import keras
import numpy as np
import pytest
import reference_frontend as reference
import resampy
import soundfile
import tensorflow as tf

from airtf.vggish import audio_converter as frontend
from airtf.errors import AudioTooShortWarning
from airtf.params import EXAMPLE_HOP_SAMPLES, EXAMPLE_SAMPLES, LOG_OFFSET

TOLERANCE = dict(rtol=1e-4, atol=1e-4)


def noise(samples, seed=0):
    """Uniform noise in [-1, 1), float32."""
    return np.random.default_rng(seed).uniform(-1.0, 1.0, samples).astype(np.float32)


def to_numpy(tensor):
    """A backend tensor as a numpy array."""
    return keras.ops.convert_to_numpy(tensor)


@pytest.fixture(scope="module")
def openmic_waveform(openmic_clip):
    """The real OpenMIC clip as the official code prepares it: float64, mono, 16 kHz."""
    if not openmic_clip.is_file():
        pytest.skip(f"{openmic_clip} is absent")
    stereo, sample_rate = soundfile.read(openmic_clip, dtype="float64")
    return resampy.resample(stereo.mean(axis=1), sample_rate, 16000)


def test_hertz_to_mel_is_htk():
    assert frontend.hertz_to_mel(0.0) == 0.0
    assert frontend.hertz_to_mel(700.0) == pytest.approx(1127.0 * math.log(2.0))


def test_mel_matrix_matches_reference():
    weights = frontend.mel_matrix()
    assert weights.shape == (257, 64)
    np.testing.assert_allclose(weights, reference.mel_matrix(), rtol=0, atol=1e-12)
    assert not weights[0].any()
    assert (weights.max(axis=0) > 0).all()


def test_mel_matrix_rejects_bands_beyond_nyquist():
    with pytest.raises(ValueError, match="Nyquist"):
        frontend.mel_matrix(upper_hz=9000.0)


def test_real_audio_matches_reference(openmic_waveform):
    waveform = openmic_waveform.astype(np.float32)
    log_mel = to_numpy(frontend.LogMel()(waveform[None]))[0]
    np.testing.assert_allclose(log_mel, reference.log_mel(openmic_waveform), **TOLERANCE)
    examples = to_numpy(frontend.LogMelExamples()(waveform))
    assert examples.shape == (10, 96, 64)
    np.testing.assert_allclose(examples, reference.examples(openmic_waveform), **TOLERANCE)


def test_waveform_to_examples_resamples_stereo(openmic_clip, openmic_waveform):
    pytest.importorskip("airtf.audio")
    stereo, sample_rate = soundfile.read(openmic_clip, dtype="float32")
    examples = frontend.waveform_to_examples(stereo, sample_rate)
    assert examples.dtype == np.float32
    np.testing.assert_allclose(examples, reference.examples(openmic_waveform), **TOLERANCE)


def test_waveform_to_examples_averages_channels():
    mono = noise(EXAMPLE_SAMPLES + EXAMPLE_HOP_SAMPLES)
    stereo = np.stack([mono + 0.25, mono - 0.25], axis=1)
    examples = frontend.waveform_to_examples(stereo)
    assert examples.shape == (2, 96, 64)
    np.testing.assert_allclose(examples, reference.examples(mono), **TOLERANCE)


def test_waveform_to_examples_rejects_three_dimensions():
    with pytest.raises(ValueError, match="channels"):
        frontend.waveform_to_examples(np.zeros((2, 3, 4), np.float32))


@pytest.mark.parametrize(
    "samples, count",
    [
        (EXAMPLE_SAMPLES - 1, 0),
        (EXAMPLE_SAMPLES, 1),
        (EXAMPLE_HOP_SAMPLES + EXAMPLE_SAMPLES - 1, 1),
        (EXAMPLE_HOP_SAMPLES + EXAMPLE_SAMPLES, 2),
    ],
)
def test_example_count_at_boundaries(samples, count):
    layer = frontend.LogMelExamples()
    waveform = noise(samples)
    examples = to_numpy(layer(waveform))
    assert examples.shape == (count, 96, 64)
    assert layer.compute_output_shape((samples,)) == (count, 96, 64)
    np.testing.assert_allclose(examples, reference.examples(waveform), **TOLERANCE)


@pytest.mark.parametrize("samples, frames", [(0, 0), (399, 0), (400, 1), (559, 1), (560, 2)])
def test_log_mel_frame_count(samples, frames):
    layer = frontend.LogMel()
    assert to_numpy(layer(np.zeros((2, samples), np.float32))).shape == (2, frames, 64)
    assert layer.compute_output_shape((2, samples)) == (2, frames, 64)
    assert layer.compute_output_shape((None, None)) == (None, None, 64)


def test_short_audio_warns_and_gives_no_examples():
    with pytest.warns(AudioTooShortWarning, match="pad=True"):
        examples = frontend.waveform_to_examples(noise(8000))
    assert examples.shape == (0, 96, 64)


def test_the_warning_names_the_length_one_example_needs():
    with pytest.warns(AudioTooShortWarning, match=r"^0\.960 s is shorter than one example, which needs 0\.975 s"):
        assert frontend.waveform_to_examples(noise(15360)).shape == (0, 96, 64)  # 0.96 s is too short
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert frontend.waveform_to_examples(noise(15600)).shape == (1, 96, 64)  # 0.975 s makes one


def test_pad_makes_one_example_of_short_audio():
    waveform = noise(5000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        examples = frontend.waveform_to_examples(waveform, pad=True)
    assert examples.shape == (1, 96, 64)
    padded = np.pad(waveform, (0, EXAMPLE_SAMPLES - len(waveform)))
    np.testing.assert_allclose(examples, reference.examples(padded), **TOLERANCE)


def test_pad_leaves_longer_audio_alone():
    waveform = noise(EXAMPLE_HOP_SAMPLES + EXAMPLE_SAMPLES - 1)
    layer = frontend.LogMelExamples(pad=True)
    padded, unpadded = layer(waveform), frontend.LogMelExamples()(waveform)
    np.testing.assert_array_equal(to_numpy(padded), to_numpy(unpadded))
    assert layer.compute_output_shape((len(waveform),)) == (1, 96, 64)
    assert layer.compute_output_shape((100,)) == (1, 96, 64)


def test_silence_is_log_offset():
    examples = frontend.waveform_to_examples(np.zeros(EXAMPLE_SAMPLES, np.float32))
    np.testing.assert_allclose(examples, np.log(LOG_OFFSET), rtol=1e-6)


def test_frame_examples_drops_partial_example():
    log_mel = np.arange(250 * 64, dtype=np.float32).reshape(250, 64)
    examples = to_numpy(frontend.frame_examples(log_mel))
    np.testing.assert_array_equal(examples, log_mel[:192].reshape(2, 96, 64))
    overlapping = to_numpy(frontend.frame_examples(log_mel, hop_frames=48))
    assert overlapping.shape == (4, 96, 64)
    np.testing.assert_array_equal(overlapping[1], log_mel[48:144])
    assert to_numpy(frontend.frame_examples(log_mel[:95])).shape == (0, 96, 64)


def test_example_time_points_match_openmic_json():
    assert frontend.example_time_points(10) == [
        0.0, 0.96, 1.92, 2.88, 3.84, 4.8, 5.76, 6.72, 7.68, 8.64
    ]
    assert frontend.example_time_points(0) == []


def test_layers_run_in_tf_data_on_variable_lengths():
    lengths = [100, 16000, EXAMPLE_SAMPLES + 999]
    waveforms = tf.data.Dataset.from_generator(
        lambda: (noise(n, seed=n) for n in lengths),
        output_signature=tf.TensorSpec((None,), tf.float32),
    )
    log_mels = list(waveforms.map(frontend.LogMel()).as_numpy_iterator())
    examples = list(waveforms.map(frontend.LogMelExamples(pad=True)).as_numpy_iterator())
    for n, log_mel, padded_examples in zip(lengths, log_mels, examples):
        waveform = noise(n, seed=n)
        np.testing.assert_allclose(log_mel, reference.log_mel(waveform), **TOLERANCE)
        padded = np.pad(waveform, (0, max(0, EXAMPLE_SAMPLES - n)))
        np.testing.assert_allclose(padded_examples, reference.examples(padded), **TOLERANCE)
    assert log_mels[0].shape == (0, 64)


def test_batch_rows_do_not_depend_on_the_batch():
    batch = np.stack([noise(20000, seed=seed) for seed in range(3)])
    layer = frontend.LogMel()
    together = to_numpy(layer(batch))
    for row, waveform in zip(together, batch):
        np.testing.assert_allclose(row, to_numpy(layer(waveform[None]))[0], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "layer",
    [
        frontend.LogMel(hop_length=80, num_mel_bins=32, upper_hz=7000.0),
        frontend.LogMelExamples(pad=True, hop_frames=48),
    ],
    ids=["LogMel", "LogMelExamples"],
)
def test_config_round_trip(layer):
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    waveform = noise(EXAMPLE_SAMPLES)[None]
    np.testing.assert_array_equal(to_numpy(clone(waveform)), to_numpy(layer(waveform)))


def test_saved_model_with_log_mel_reloads(tmp_path):
    inputs = keras.Input(shape=(None,))
    model = keras.Model(inputs, frontend.LogMel(hop_length=320)(inputs))
    path = tmp_path / "log_mel.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    assert not reloaded.weights
    waveform = noise(8000)[None]
    np.testing.assert_array_equal(
        reloaded.predict(waveform, verbose=0), model.predict(waveform, verbose=0)
    )
    assert model.output_shape == (None, None, 64)
