"""airtf-pretrain: pre-train VGGish on a paper objective (textual, den-add, den-mul, align).

Writes into RUN_DIR its config.json, TensorBoard logs (logs/), history.csv,
checkpoints and, at the end, the trained backbone RUN_DIR/vggish.weights.h5,
which every --weights option accepts (also as RUN_DIR). Rerun the same
command to continue after an interruption. Progress is Keras's bar on a
terminal, one line per epoch otherwise.
"""

import argparse
import sys

from airtf.cli.common import nonnegative, number, one_line_warnings, positive, reports_errors, seed

PROGRAM = "airtf-pretrain"


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (the usage is under --help)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _word(text):
    quality, separator, word = text.partition("=")
    if not separator or not quality or not word:
        raise argparse.ArgumentTypeError(f"{text!r} is not QUALITY=WORD (e.g. multiphonic=polyphonic)")
    return quality, word


def parse(argv):
    from airtf import objectives, pretrain, vggish

    parser = OneLineParser(prog=PROGRAM, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objective", required=True, choices=list(objectives.OBJECTIVES),
                        help="textual descriptions, denoising (additive, multiplicative) or audio-tag alignment")
    parser.add_argument("--data", required=True, metavar="DIR",
                        help="NSynth (textual, den-*) or Freesound tags (align) in the released layout")
    parser.add_argument("--out", required=True, metavar="RUN_DIR", help="the run directory")
    parser.add_argument("--epochs", type=positive(), default=50, metavar="N", help="at most this many epochs (default %(default)s)")
    parser.add_argument("--batch-size", type=positive(), default=64, metavar="N", help="over all replicas (default %(default)s)")
    parser.add_argument("--lr", type=positive(float), default=1e-4, metavar="X", help="Adam's learning rate (default %(default)s)")
    parser.add_argument("--patience", type=nonnegative(int), default=5, metavar="N",
                        help="epochs without a lower val_loss before stopping; 0 never stops (default %(default)s)")
    parser.add_argument("--limit", type=positive(), metavar="N", help="use only the first N notes or sounds")
    parser.add_argument("--seed", type=seed, default=0, metavar="N", help="default %(default)s")
    parser.add_argument("--init", choices=pretrain.INITS, default="random",
                        help="random: Glorot-uniform (default); official: the AudioSet weights")
    parser.add_argument("--weights", metavar="FILE_OR_RUN_DIR",
                        help="start from these weights instead: a .weights.h5, a TF1 checkpoint or a run directory")
    parser.add_argument("--variant", choices=sorted(vggish.VARIANTS), default=vggish.DEFAULT_VARIANT,
                        help="audioset-2017 has a ReLU after fc2 (default %(default)s)")
    parser.add_argument("--strategy", choices=pretrain.STRATEGIES, default="default",
                        help="mirrored: all local devices; multi-worker: the cluster in TF_CONFIG")
    parser.add_argument("--overwrite", action="store_true",
                        help="clear RUN_DIR's earlier run (another configuration, or one that ended) and start afresh")
    _objective_options(parser.add_argument_group("objective options (each applies where the objective takes it)"))
    return parser.parse_args(argv)


def _objective_options(group):
    """The objectives' own options; those not given are left to the objective's defaults."""
    hidden = argparse.SUPPRESS
    group.add_argument("--examples", choices=("first", "all"), default=hidden,
                       help="which 0.96 s examples of each note or sound (default first)")
    group.add_argument("--cache-dir", metavar="DIR", default=hidden,
                       help="den-*, align: keep decoded log-mel there (json/wav and audio files)")
    group.add_argument("--word-vectors", metavar="SOURCE", default=hidden,
                       help="textual: en_core_web_md (default), a word2vec/GloVe file or a spaCy folder")
    group.add_argument("--word-map", type=_word, action="append", metavar="QUALITY=WORD", default=hidden,
                       help="textual: describe a quality by another word (repeatable)")
    group.add_argument("--margin", type=number(float, minimum=-1, below=1), default=hidden, metavar="X", help="textual: of negative pairs (0.5)")
    group.add_argument("--stddev", type=positive(float), default=hidden, metavar="X", help="den-add: noise standard deviation (0.1)")
    group.add_argument("--keep-probability", type=number(float, above=0, maximum=1), default=hidden, metavar="P",
                       help="den-mul: probability of keeping a bin (0.5)")
    group.add_argument("--rescale", action="store_true", default=hidden,
                       help="den-mul: divide kept bins by the keep probability")
    group.add_argument("--vocabulary-size", type=positive(), default=hidden, metavar="K", help="align: tags kept, K (1000)")
    group.add_argument("--no-autoencoder", dest="autoencoder", action="store_false", default=hidden,
                       help="align: without COALA's tag auto-encoder")
    group.add_argument("--temperature", type=positive(float), default=hidden, metavar="X", help="align: NT-Xent temperature (0.1)")
    group.add_argument("--contrastive-weight", type=nonnegative(float), default=hidden, metavar="X",
                       help="align: weight of the NT-Xent loss (10)")
    group.add_argument("--reconstruction-weight", type=nonnegative(float), default=hidden, metavar="X",
                       help="align: weight of the tag reconstruction loss (5)")


OBJECTIVE_OPTIONS = ("examples", "cache_dir", "word_vectors", "word_map", "margin", "stddev", "keep_probability",
                     "rescale", "vocabulary_size", "autoencoder", "temperature", "contrastive_weight",
                     "reconstruction_weight")


def objective_options(args):
    """The objective options given on the command line, as :func:`airtf.pretrain.train` takes them."""
    options = {name: getattr(args, name) for name in OBJECTIVE_OPTIONS if hasattr(args, name)}
    if "word_map" in options:
        options["word_map"] = dict(options["word_map"])
    return options


@reports_errors(PROGRAM)
def main(argv=None):
    from airtf import pretrain

    args = parse(argv)
    with one_line_warnings(PROGRAM):
        result = pretrain.train(args.objective, args.data, args.out, epochs=args.epochs, batch_size=args.batch_size,
                                lr=args.lr, patience=args.patience, limit=args.limit, seed=args.seed, init=args.init,
                                weights=args.weights, variant=args.variant, strategy=args.strategy,
                                overwrite=args.overwrite, options=objective_options(args),
                                verbose=1 if sys.stdout.isatty() else 2)
    print(summary(args.objective, result))
    return 0


def summary(objective, result):
    """The final line: the best validation loss, the epochs, where the backbone is."""
    resumed = f", resumed after epoch {result.resumed_at}" if result.resumed_at else ""
    replicas = f", {result.replicas} replicas" if result.replicas > 1 else ""
    best = (f"none of {result.epochs} epochs reached a finite val_loss" if result.best_epoch is None else
            f"best val_loss {result.best_val_loss:.6g} at epoch {result.best_epoch + 1} of {result.epochs}")
    return f"{objective}: {best}{resumed}{replicas}; backbone: {result.backbone}"


if __name__ == "__main__":
    sys.exit(main())
