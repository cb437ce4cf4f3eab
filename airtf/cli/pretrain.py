"""airtf-pretrain: pre-train VGGish on a paper objective (textual, den-add, den-mul, align).

Writes into RUN_DIR its config.json, TensorBoard logs (logs/), history.csv,
checkpoints and, at the end, the trained backbone RUN_DIR/vggish.weights.h5,
which every --weights option accepts (also as RUN_DIR). Rerun the same
command to continue after an interruption. Progress is Keras's bar on a
terminal, one line per epoch otherwise.
"""

import argparse
import dataclasses
import sys

from airtf.cli.common import (add_deterministic, add_dry_run, add_out, add_overwrite, add_seed, add_weights, command_parser,
                              deterministic_if_asked, naming_the_resume, nonnegative, one_line_warnings, positive,
                              reports_errors)

PROGRAM = "airtf-pretrain"


def parse(argv):
    from airtf import params
    from airtf.pretrain import objectives

    known = objectives.classes()
    parser = command_parser(PROGRAM, __doc__)
    parser.add_argument("--objective", required=True, choices=list(known),
                        help="; ".join(f"{name}: {cls.summary()}" for name, cls in known.items()))
    readers = {}
    for name, cls in known.items():
        readers.setdefault(cls.data, []).append(name)
    parser.add_argument("--data", required=True, metavar="DIR",
                        help="the objective's data set in its released layout: "
                             + ", ".join(f"{data} ({', '.join(names)})" for data, names in readers.items()))
    add_out(parser, "the run directory", metavar="RUN_DIR")
    parser.add_argument("--epochs", type=positive(), default=50, metavar="N",
                        help="at most this many epochs (default %(default)s)")
    parser.add_argument("--batch-size", type=positive(), default=64, metavar="N",
                        help="over all replicas (default %(default)s)")
    parser.add_argument("--lr", type=positive(float), default=1e-4, metavar="X",
                        help="Adam's learning rate (default %(default)s)")
    parser.add_argument("--patience", type=nonnegative(int), default=5, metavar="N",
                        help="epochs without a lower val_loss before stopping; 0 never stops (default %(default)s)")
    parser.add_argument("--limit", type=positive(), metavar="N", help="use only the first N notes or sounds")
    add_seed(parser, "seeds initialisation, shuffling, noise and pair draws")
    parser.add_argument("--strategy", choices=params.PRETRAIN_STRATEGIES, default="default",
                        help="mirrored: all local devices; multi-worker: the cluster in TF_CONFIG")
    add_overwrite(parser, "clear RUN_DIR's earlier run (another configuration, or one that ended) and start afresh")
    add_deterministic(parser)
    add_dry_run(parser)
    add_weights(parser, "the VGGish to start from (random: Glorot-uniform)", default="random", pca=False)
    dests = _objective_options(parser.add_argument_group("objective options (each applies to the objectives named)"),
                               known)
    args = parser.parse_args(argv)
    args.objective_options = {dest: getattr(args, dest) for dest in dests if hasattr(args, dest)}
    foreign = [dest for dest in args.objective_options if dest not in known[args.objective].option_names()]
    if foreign:
        flags = ", ".join(f"--{dest.replace('_', '-')}" for dest in known[args.objective].option_names())
        parser.error(f"the {args.objective} objective takes no option "
                     f"{', '.join('--' + dest.replace('_', '-') for dest in foreign)}; its options are {flags}")
    return args


def _objective_options(group, known):
    """One option per field of the objectives' configs; each help says which objectives take it.

    Returns the options' destination names. Options not given are left out
    of the namespace, so that each objective keeps its own defaults.
    """
    users = {}
    for name, cls in known.items():
        for field in dataclasses.fields(cls.Config):
            users.setdefault(field.name, []).append((name, field))
    for dest, takers in users.items():
        field = takers[0][1]
        metadata = field.metadata
        default = _default(field)
        kwargs = {"dest": dest, "default": argparse.SUPPRESS,
                  "help": f"{', '.join(name for name, _ in takers)}: {metadata['help']}{_defaults_text(takers)}"}
        if isinstance(default, bool):
            kwargs["action"] = "store_false" if default else "store_true"
        elif isinstance(default, dict):
            kwargs.update(action="append", metavar=metadata["metavar"])
        else:
            kwargs.update(type=metadata["check"], metavar=metadata["metavar"], choices=metadata["choices"])
        group.add_argument(metadata["flag"] or f"--{dest.replace('_', '-')}", **kwargs)
    return list(users)


def _default(field):
    return field.default if field.default is not dataclasses.MISSING else field.default_factory()


def _defaults_text(takers):
    """" (default 0.1)", or the default of each objective where they differ; "" for no default."""
    defaults = {name: _default(field) for name, field in takers}
    shown = {name: value for name, value in defaults.items() if value not in (None, {}) and
             not isinstance(value, bool)}
    if not shown:
        return ""
    if len(set(map(repr, shown.values()))) == 1:
        return f" (default {next(iter(shown.values()))})"
    return " (default " + ", ".join(f"{name} {value}" for name, value in shown.items()) + ")"


@reports_errors(PROGRAM)
def main(argv=None):
    deterministic_if_asked(argv)
    args = parse(argv)
    if args.dry_run:
        return _plan(args)
    from airtf.support import locks

    with locks.holding(args.out, PROGRAM):  # before TensorFlow loads: a second run is refused at once
        return _train(args, sys.argv[1:] if argv is None else argv)


def _plan(args):
    from airtf.pretrain import training

    with one_line_warnings(PROGRAM):
        print(training.plan(settings(args), args.out))
    return 0


def _train(args, argv):
    from airtf.pretrain import training

    with naming_the_resume(PROGRAM, argv), one_line_warnings(PROGRAM):
        result = training.train(settings(args), args.out, overwrite=args.overwrite,
                                verbose=1 if sys.stdout.isatty() else 2)
    print(summary(args.objective, result))
    return 0


def settings(args):
    """The run's :class:`airtf.pretrain.training.Settings`, from the parsed command line."""
    from airtf.pretrain import training

    return training.Settings(args.objective, args.data, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                             patience=args.patience, limit=args.limit, seed=args.seed, weights=args.weights,
                             variant=args.variant, strategy=args.strategy, options=args.objective_options)


def summary(objective, result):
    """The final line: the best validation loss, the epochs, where the backbone is."""
    resumed = f", resumed after epoch {result.resumed_at}" if result.resumed_at else ""
    replicas = f", {result.replicas} replicas" if result.replicas > 1 else ""
    best = (f"none of {result.epochs} epochs reached a finite val_loss" if result.best_epoch is None else
            f"best val_loss {result.best_val_loss:.6g} at epoch {result.best_epoch + 1} of {result.epochs}")
    return f"{objective}: {best}{resumed}{replicas}; backbone: {result.backbone}"


if __name__ == "__main__":
    sys.exit(main())
