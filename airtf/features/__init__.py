"""Audio to features: what stage two and the extraction commands compute from audio.

``extract``
    The extraction: files or arrays to log-mel, embeddings or PCA, in
    batches across files, streamed (airtf-extract, :func:`airtf.embed`).
``engine``
    Files to any model's per-example features through the extraction and
    the one array cache, the model handed over by the caller (the stage-two
    feature sets).
``extract_beam``
    The same on Apache Beam (``airtf-extract --runner``).
``outputs``
    The files extraction writes (.npz / OpenMIC-2018's JSON), never overwritten.
``feature_sets``
    Stage two's feature sets for OpenMIC-2018 (released PCA, VGGish of any
    weights, log-mel, musicnn's layers), computed by the engine.

May import: airtf.params, airtf.errors, airtf.support, airtf.audio, airtf.vggish, airtf.musicnn, airtf.datasets,
airtf.runs.layout (the run directory's file names: --output normalised reads an airtf-eval run's feature set).
"""
