"""A music tagger's own tags for files: musicnn's taggram averaged over a file (airtf-predict --tags).

The taggram (each tag's probability per 3 s patch) comes from the feature
engine, streamed, so a file of any length fits in bounded memory; a file's
tags are the taggram's mean over its patches, as musicnn's ``top_tags``
ranks them. A file shorter than one patch is zero-padded to one.
"""

import numpy as np


def tagger(weights):
    """The extractor of a musicnn model's taggram, and its tag names."""
    from airtf import musicnn
    from airtf.features import extract

    source = musicnn.MusicnnSource.parse(weights, "taggram")
    return extract.make_extractor("embedding", source, pad=True), source.tags()


def file_tags(extractor, names, path):
    """Every tag of ``names`` with its mean probability over ``path``'s patches, most probable first."""
    [taggram] = extractor.arrays([path])
    mean = taggram.mean(axis=0)
    return [(names[index], float(mean[index])) for index in np.argsort(-mean, kind="stable")]


def format_tags(name, ranking, top):
    """``NAME: piano 0.776, classical 0.667, ...``: the ``top`` most probable tags."""
    return f"{name}: " + ", ".join(f"{tag} {probability:.3f}" for tag, probability in ranking[:top])
