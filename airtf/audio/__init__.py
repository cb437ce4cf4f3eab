"""Audio in: any file or array to float32 mono 16 kHz, exactly as the official VGGish reads it.

decoding.py reads files (whole, streamed in blocks, or inside tf.data) and
arrays; framing.py regroups a stream into segments of whole examples;
resampling.py is resampy's kaiser_best filter in polyphase form.
The names below are the package's API.

May import: airtf.params, airtf.errors, airtf.support. Imports no model code
and no TensorFlow at module level (frames.py, Keras operations for the front ends, is imported by them only).
"""

from airtf.audio.decoding import (AUDIO_SUFFIXES, SUPPORTED_FORMATS, AudioInfo, SampleRangeWarning, Waveform,
                                  WaveformError, decode_tf, info, integer_scale, read, stream, to_mono, waveform)
from airtf.audio.framing import example_segments, mirrored_edges, segments_for
from airtf.audio.resampling import RESAMPLERS, resample, resampled_length, single_threaded_blas

__all__ = ["AUDIO_SUFFIXES", "RESAMPLERS", "SUPPORTED_FORMATS", "AudioInfo", "SampleRangeWarning", "Waveform",
           "WaveformError", "decode_tf", "example_segments", "info", "integer_scale", "mirrored_edges", "read",
           "resample", "resampled_length", "segments_for", "single_threaded_blas", "stream", "to_mono", "waveform"]
