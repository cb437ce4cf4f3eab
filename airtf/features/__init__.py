"""Audio to features: what stage two and the extraction commands compute from audio.

``extract``
    Files or arrays to log-mel, embeddings, PCA or normalised features, in
    batches, streamed (airtf-extract, :func:`airtf.embed`).
``extract_beam``
    The same on Apache Beam (``airtf-extract --runner``).
``outputs``
    The files extraction writes (.npz / OpenMIC-2018's JSON), never overwritten.
``feature_sets``
    Stage two's feature sets for OpenMIC-2018 (released PCA, VGGish of any
    weights, log-mel), cached per clip.

May import: airtf.params, airtf.errors, airtf.support, airtf.audio, airtf.vggish, airtf.datasets.
"""
