"""airtf-predict: which instruments play in audio files, and when.

For each file (any format or sample rate), the instruments whose probability
reaches --threshold, with the time ranges where their per-frame probability
reaches it too (consecutive active frames merged). --json prints one JSON
document instead, with every instrument's probability: {file: {"duration": s,
"threshold": p, "instruments": {name: {"probability": p, "present": bool,
"active": [[start, end], ...]}}}}, most probable first.
"""

import sys

from airtf.cli.common import (add_quiet, add_replaced_weights, command_parser, one_line_warnings, probability,
                              reports_errors)


def parse(argv):
    from airtf import params

    parser = command_parser("airtf-predict", __doc__)
    parser.add_argument("inputs", nargs="+", metavar="AUDIO", help="audio files")
    parser.add_argument("--model", required=True, metavar="EXPORT_DIR_OR_RUN_DIR",
                        help="a SavedModel written by airtf-export (loading one runs the TensorFlow operations it "
                             "holds: load only exports you trust), or a run directory written by airtf-eval")
    parser.add_argument("--threshold", type=probability, metavar="P", default=params.THRESHOLD,
                        help="probability at which an instrument is present, and a frame active "
                             "(default %(default)s)")
    parser.add_argument("--json", action="store_true", help="print one JSON document for machines")
    add_quiet(parser)
    add_replaced_weights(parser, "a run directory (an export holds its own)")
    return parser.parse_args(argv)


@reports_errors("airtf-predict")
def main(argv=None):
    args = parse(argv)
    with one_line_warnings("airtf-predict"):
        return predict_all(args)


def predict_all(args):
    """Predict every file that ``args`` names, printing as it goes; return the exit code."""
    from tqdm import tqdm

    from airtf.errors import AudioError
    from airtf.serve import export, predict
    from airtf.support.files import printable

    model = export.load(args.model, weights=args.weights, variant=args.variant, pca_params=args.pca_params)
    name_width = max(map(len, model.class_names))
    failed, members = 0, 0
    if args.json:  # one document, each file's member written as it is predicted
        sys.stdout.write("{")
    with tqdm(args.inputs, unit="file", disable=args.quiet or len(args.inputs) < 2) as bar:
        for path in bar:
            try:
                prediction = predict.predict_file(model, path, args.threshold)
            except AudioError as error:
                bar.write(f"airtf-predict: error: {error}", file=sys.stderr)
                failed += 1
                continue
            if args.json:
                sys.stdout.write(("," if members else "") + predict.json_entry(path, prediction))
                sys.stdout.flush()
                members += 1
            else:
                bar.write(predict.format_text(printable(path), prediction, name_width), file=sys.stdout)
    if args.json:
        print("}")
    if failed:
        print(f"airtf-predict: {failed} of {len(args.inputs)} files failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
