"""airtf-eval: train and score the attention classifier on one feature set of OpenMIC-2018.

Trains on the training split, keeps the epoch with the best validation
F1-macro, scores it on split01_test, once per seed, and writes RUN_DIR:
per-instrument scores (stdout, scores.json, scores.csv), plots (PNG),
TensorBoard logs, checkpoints and the best seed's classifier
(attention.keras). Rerunning the same command skips finished seeds and
resumes an interrupted one. See airtf/evaluate.py for the layout.

Feature sets: pca (the released features / 255), norm (a VGGish's
embeddings, min-max normalised on the training split), random (a random
VGGish), logmel (the log-mel frames), or a pre-training run directory or
weights file (its VGGish, normalised like norm).
"""

import argparse

from airtf.cli.common import one_line_warnings, positive, reports_errors, seed


def _seeds(text):
    try:
        seeds = [int(seed) for seed in text.split(",") if seed.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of integers") from None
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give distinct non-negative seeds, e.g. 0,42,1346")
    return tuple(seeds)


def parse(argv):
    from airtf import attention, evaluate, features

    parser = argparse.ArgumentParser(prog="airtf-eval", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--features", required=True, metavar="SET",
                        help=f"{', '.join(kind for kind, cls in features.FEATURE_SETS.items() if cls.named)}, or a pre-training run "
                             "directory or weights file")
    parser.add_argument("--data", required=True, metavar="OPENMIC_DIR", help="the OpenMIC-2018 folder")
    parser.add_argument("--out", required=True, metavar="RUN_DIR", help="the run directory to write (or resume)")
    parser.add_argument("--seeds", type=_seeds, default=evaluate.SEEDS, metavar="S,S,...",
                        help="one classifier per seed (default %(default)s: 0,42,1346)")
    parser.add_argument("--epochs", type=positive(int), default=attention.EPOCHS, help="default %(default)s")
    parser.add_argument("--batch-size", type=positive(int), default=attention.BATCH_SIZE, help="default %(default)s")
    parser.add_argument("--lr", type=positive(float), default=attention.LEARNING_RATE,
                        help="Adam's learning rate (default %(default)s)")
    parser.add_argument("--norm", choices=attention.NORMS, default="group",
                        help="normalisation in the classifier: group (the paper, default) or batch (the original code)")
    parser.add_argument("--weights", metavar="FILE_OR_RUN_DIR",
                        help="for --features norm: official (default), random, a .weights.h5 or a run directory")
    parser.add_argument("--variant", metavar="VARIANT",
                        help="VGGish variant for norm, random and pre-trained features (default audioset-2017)")
    parser.add_argument("--feature-seed", type=seed, default=0, metavar="S",
                        help="seed of the random VGGish (default %(default)s)")
    parser.add_argument("--limit", type=positive(int), metavar="N",
                        help="at most N clips of each of train, validation and test (smoke runs)")
    parser.add_argument("--cache-dir", metavar="DIR",
                        help=f"feature cache, shared by runs (default {features.default_cache_dir()})")
    parser.add_argument("--overwrite", action="store_true",
                        help="delete an earlier airtf-eval's outputs in RUN_DIR and start afresh")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser.parse_args(argv)


@reports_errors("airtf-eval")
def main(argv=None):
    args = parse(argv)
    from airtf import evaluate, reporting

    settings = evaluate.Settings(features=args.features, data=args.data, seeds=args.seeds, epochs=args.epochs,
                                 batch_size=args.batch_size, learning_rate=args.lr, norm=args.norm,
                                 weights=args.weights, variant=args.variant, feature_seed=args.feature_seed,
                                 limit=args.limit)
    with one_line_warnings("airtf-eval"):
        outcome = evaluate.evaluate(settings, args.out, cache_dir=args.cache_dir, overwrite=args.overwrite,
                                    verbose=0 if args.quiet else "auto")
    summary = outcome.summary
    if outcome.skipped:
        print(f"seeds {', '.join(map(str, outcome.skipped))} were finished already and are kept")
    print(f"{summary['features']}: test scores over seeds {', '.join(summary['seeds'])} "
          f"(best validation F1-macro: seed {summary['best_seed']})")
    print(reporting.summary_table(summary))
    print(f"wrote {args.out}: {reporting.SCORES_NAME}, {reporting.SCORES_CSV_NAME}, {reporting.INSTRUMENT_PLOT}, "
          f"{reporting.SEEDS_PLOT}, {reporting.MODEL_NAME}, seed-<s>/ (TensorBoard: tensorboard --logdir {args.out})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
