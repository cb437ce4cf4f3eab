"""A stream of 16 kHz blocks regrouped into segments that each hold whole examples.

A front end frames a waveform into examples of ``example_samples`` samples,
``hop_samples`` apart (VGGish: 15,600 and 15,360; musicnn's 3 s patches:
48,128 and 47,872). Consecutive segments overlap by the samples an example
reaches past its hop, so that framing each segment on its own gives exactly
the examples of framing the whole waveform, and a file of any length is
framed in bounded memory. A front end whose STFT frames are centred
(librosa's ``center=True``) sees the waveform with ``edge_samples`` mirrored
at both ends: :func:`mirrored_edges` adds them to the stream.
"""

import numpy as np

from airtf import params


def example_segments(blocks, pad=False, example_samples=params.EXAMPLE_SAMPLES,
                     hop_samples=params.EXAMPLE_HOP_SAMPLES):
    """Regroup a stream of 16 kHz blocks into segments that each hold whole examples.

    Parameters
    ----------
    blocks : iterable of 1-D float32 arrays.
    pad : bool
        Zero-pad a waveform shorter than one example so that it gives one
        example; longer waveforms are never padded.
    example_samples, hop_samples : int
        The front end's example length and step, in samples (VGGish's by default).
    """
    overlap = example_samples - hop_samples
    buffer = np.zeros(0, np.float32)
    seen = 0
    for block in blocks:
        seen += len(block)
        buffer = np.concatenate([buffer, block])
        whole = (len(buffer) - overlap) // hop_samples
        if whole > 0:
            cut = whole * hop_samples
            yield buffer[:cut + overlap]
            buffer = buffer[cut:]
    if len(buffer) >= example_samples:
        yield buffer
    elif pad and seen < example_samples:
        yield np.pad(buffer, (0, example_samples - len(buffer)))


def segments_for(blocks, framing, pad=False):
    """Segments of whole examples as a front end frames them.

    ``framing`` states ``example_samples``, ``hop_samples`` and
    ``edge_samples`` (a front end's layer, or a model that carries them):
    the edges are mirrored first where it has some.
    """
    if framing.edge_samples:
        blocks = mirrored_edges(blocks, framing.edge_samples)
    return example_segments(blocks, pad, framing.example_samples, framing.hop_samples)


def mirrored_edges(blocks, edge_samples):
    """The stream with ``edge_samples`` mirrored at its start and end (numpy's and librosa's "reflect").

    The first sample and the last are the mirrors' axes and are not repeated.
    A waveform of ``edge_samples`` samples or fewer is mirrored as a whole
    (``np.pad(..., mode="reflect")``; a single sample is repeated).
    """
    head = np.zeros(0, np.float32)  # the start, held until it is longer than the edge
    tail = np.zeros(0, np.float32)  # the last edge_samples + 1 samples seen
    for block in blocks:
        block = np.asarray(block, np.float32)
        if head is not None:
            head = np.concatenate([head, block])
            if len(head) <= edge_samples:
                continue
            block, head = np.concatenate([head[edge_samples:0:-1], head]), None
            tail = block[-(edge_samples + 1):]
        else:
            tail = np.concatenate([tail, block])[-(edge_samples + 1):]
        yield block
    if head is not None:
        if len(head):
            yield np.pad(head, edge_samples, mode="reflect" if len(head) > 1 else "edge").astype(np.float32)
        return
    yield tail[-2::-1][:edge_samples]
