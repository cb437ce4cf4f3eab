"""Read data sets back through their loaders and summarise them in a few lines.

What `airtf-data check` prints: that each set is complete and consistent
(OpenMIC's validate(), with the uses it serves), how many items each split
holds, and the shapes of the first element that the tf.data pipeline
yields — so a broken layout is found before a training run starts. Each
``check_*`` returns the lines and whether the set has no problem.
"""

import numpy as np

from airtf.data.pipeline import DatasetError

NSYNTH_SPLITS = ("train", "valid", "test")
PRETRAINING_SPLITS = ("train", "valid")


def check_openmic(root):
    """Lines about an OpenMIC-2018 folder (validation, uses, labels, splits, one audio clip), and ok."""
    from airtf.data import openmic

    data = openmic.OpenMIC(root)
    report = data.validate()
    if report.errors or report.missing_files:
        return str(report).splitlines(), False
    labels = data.labels
    annotated = labels.y_mask.sum()
    positives = (data.positives).sum()
    lines = str(report).splitlines()
    lines.append(f"  {len(labels.sample_key)} clips, {len(data.classes)} classes; {annotated} annotated entries "
                 f"({positives} positive), {labels.y_mask.size - annotated} unknown")
    lines.append("  partitions: " + ", ".join(f"{name} {len(keys)}" for name, keys in data.partitions.items()))
    first = data.partitions["train"][:1]
    if first and not report.keys_without_audio:
        log_mel, _, mask = next(iter(data.audio_dataset(first)))
        lines.append(f"  audio view of {first[0]}: log-mel {tuple(log_mel.shape)}, {int(np.sum(mask))} labels known")
    return lines, report.ok


def check_nsynth(root):
    """Lines about an NSynth folder (notes per split, the first example of each), and ok.

    Pre-training reads train and valid: without either the set has a
    problem; without test it has not.
    """
    from airtf.data import nsynth

    lines, ok = [f"NSynth at {root}:"], True
    for split in NSYNTH_SPLITS:
        try:
            dataset = nsynth.load(root, split)
        except DatasetError as error:
            needed = split in PRETRAINING_SPLITS
            ok = ok and not needed
            lines.append(f"  {split}: {error}" + ("" if needed else " (pre-training does not read it)"))
            continue
        count = sum(1 for _ in dataset)
        log_mel, labels = next(iter(dataset))
        qualities = [name for name, on in zip(nsynth.QUALITIES, labels["qualities"].numpy()) if on]
        lines.append(f"  {split}: {count} notes; first {labels['note_str'].numpy().decode()}: log-mel "
                     f"{tuple(log_mel.shape)}, family {nsynth.FAMILIES[int(labels['family'])]}, "
                     f"qualities {', '.join(qualities) or 'none'}")
    lines[0] = f"NSynth at {root}: {'ok' if ok else 'problems found'}"
    return lines, ok


def check_freesound(root):
    """Lines about a Freesound-tags folder (sounds used and skipped, vocabulary, first example), and ok."""
    from airtf.data import freesound

    data = freesound.load(root)
    log_mel, targets = next(iter(data.dataset))
    return [f"Freesound tags at {root}: ok", f"  {data.report}",
            f"  vocabulary of {len(data.vocabulary)} tags; first sound: log-mel {tuple(log_mel.shape)}, "
            f"{int(np.sum(targets))} tags"], True
