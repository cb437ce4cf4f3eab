"""airtf-eval: train and score the attention classifier on one feature set of OpenMIC-2018.

Trains on the training split, keeps the epoch with the best validation
F1-macro, scores it on split01_test, once per seed, and writes RUN_DIR:
per-instrument scores (stdout, scores.json, scores.csv), plots (PNG),
TensorBoard logs, checkpoints and the best seed's classifier
(attention.keras). Rerunning the same command skips finished seeds and
resumes an interrupted one. See airtf/evaluate.py for the layout.

Feature sets: pca (the released features / 255), norm (a VGGish's
embeddings, min-max normalised on the training split), random (a random
VGGish), logmel (the log-mel frames), a pre-training run directory or
weights file (its VGGish, normalised like norm), or a musicnn model
(musicnn-mtt, musicnn-msd, vgg-mtt, vgg-msd: one layer per 3 s patch,
--layer, normalised like norm).
"""

import argparse
import sys

from airtf.cli.common import (add_deterministic, add_dry_run, add_hop, add_layer, add_out, add_overwrite, add_quiet,
                              add_weights, command_parser, deterministic_if_asked, naming_the_resume, one_line_warnings,
                              positive, reports_errors, seed)


def _seeds(text):
    try:
        seeds = [int(seed) for seed in text.split(",") if seed.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of integers") from None
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give distinct non-negative seeds, e.g. 0,42,1346")
    return tuple(seeds)


def parse(argv):
    from airtf import params
    from airtf.support import files

    parser = command_parser("airtf-eval", __doc__)
    parser.add_argument("--features", required=True, metavar="SET",
                        help=f"{', '.join(params.FEATURE_SETS)}, a pre-training run directory or weights file, or a "
                             "musicnn model (musicnn-mtt, musicnn-msd, vgg-mtt, vgg-msd)")
    parser.add_argument("--data", required=True, metavar="OPENMIC_DIR", help="the OpenMIC-2018 folder")
    add_out(parser, "the run directory to write (or resume)", metavar="RUN_DIR")
    parser.add_argument("--seeds", type=_seeds, default=params.CLASSIFIER_SEEDS, metavar="S,S,...",
                        help="one classifier per seed (default "
                             f"{','.join(map(str, params.CLASSIFIER_SEEDS))})")
    parser.add_argument("--epochs", type=positive(int), default=params.CLASSIFIER_EPOCHS, metavar="N",
                        help="default %(default)s")
    parser.add_argument("--batch-size", type=positive(int), default=params.CLASSIFIER_BATCH_SIZE, metavar="N",
                        help="default %(default)s")
    parser.add_argument("--lr", type=positive(float), default=params.CLASSIFIER_LEARNING_RATE, metavar="X",
                        help="Adam's learning rate (default %(default)s)")
    parser.add_argument("--classifier", choices=("attention", "random-forest"), default="attention",
                        help="attention (the paper, default) or random-forest: the cosmir baseline, one "
                             "RandomForestClassifier(max_depth=8, n_estimators=100) per instrument on time-averaged "
                             "features (random_state = the seed; 0 is the baseline's)")
    parser.add_argument("--thresholds", choices=("fixed", "tuned"), default="fixed",
                        help="tuned: also print the test scores with each instrument's threshold tuned on the "
                             "validation split (0.05 to 0.95; scores.json always holds them), apart from the 0.5 "
                             "ones (default fixed)")
    parser.add_argument("--norm", choices=params.CLASSIFIER_NORMS, default="group",
                        help="normalisation in the classifier: group (the paper, default) or batch (the original code)")
    parser.add_argument("--limit", type=positive(int), metavar="N",
                        help="at most N clips of each of train, validation and test (smoke runs)")
    parser.add_argument("--cache-dir", metavar="DIR",
                        help=f"feature cache, shared by runs (default $AIRTF_CACHE, else {files.cache_home()})")
    add_overwrite(parser, "delete an earlier airtf-eval's outputs in RUN_DIR and start afresh (never other files)")
    add_quiet(parser)
    add_deterministic(parser)
    add_dry_run(parser)
    weights = add_weights(parser, "--features norm's VGGish (default official)", pca=False)
    weights.add_argument("--feature-seed", type=seed, default=0, metavar="N",
                         help="seed of a random VGGish (default %(default)s)")
    add_layer(weights)
    add_hop(weights, "the model's (more frames per clip for the classifier)")
    return parser.parse_args(argv)


@reports_errors("airtf-eval")
def main(argv=None):
    deterministic_if_asked(argv)
    args = parse(argv)
    if args.dry_run:
        return _plan(args)
    from airtf.support import locks

    with locks.holding(args.out, "airtf-eval"):  # before TensorFlow loads: a second run is refused at once
        return _evaluate(args, sys.argv[1:] if argv is None else argv)


def _settings(args):
    from airtf.classify import evaluate

    return evaluate.Settings(features=args.features, data=args.data, seeds=args.seeds, epochs=args.epochs,
                             batch_size=args.batch_size, learning_rate=args.lr, norm=args.norm,
                             weights=args.weights, variant=args.variant, feature_seed=args.feature_seed,
                             limit=args.limit, layer=args.layer, classifier=args.classifier, hop=args.hop)


def _plan(args):
    from airtf.classify import evaluate

    with one_line_warnings("airtf-eval"):
        print(evaluate.plan(_settings(args), args.out, cache_dir=args.cache_dir))
    return 0


def _evaluate(args, argv):
    from airtf.classify import evaluate, reporting
    from airtf.runs import layout

    with naming_the_resume("airtf-eval", argv), one_line_warnings("airtf-eval"):
        outcome = evaluate.evaluate(_settings(args), args.out, cache_dir=args.cache_dir, overwrite=args.overwrite,
                                    verbose=0 if args.quiet else "auto")
    summary = outcome.summary
    if outcome.skipped:
        print(f"seeds {', '.join(map(str, outcome.skipped))} were finished already and are kept")
    forests = args.classifier == "random-forest"
    print(f"{summary['features']}{', random forests' if forests else ''}: test scores over seeds "
          f"{', '.join(summary['seeds'])} (best validation F1-macro: seed {summary['best_seed']})")
    print(reporting.summary_table(summary))
    if args.thresholds == "tuned":
        print(reporting.tuned_text(summary))
    written = (f"seed-<s>/ (scores and test predictions; forests are not kept)" if forests else
               f"{layout.MODEL_NAME}, seed-<s>/ (TensorBoard: tensorboard --logdir {args.out})")
    print(f"wrote {args.out}: {layout.SCORES_NAME}, {layout.SCORES_CSV_NAME}, {layout.INSTRUMENT_PLOT}, "
          f"{layout.SEEDS_PLOT}, {written}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
