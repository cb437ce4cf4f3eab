"""airtf-predict: which instruments play in audio files, and when.

For each file (any format or sample rate), the instruments whose probability
reaches --threshold, with the time ranges where their per-frame probability
reaches it too (consecutive active frames merged). --json prints one JSON
document instead, with every instrument's probability: {file: {"duration": s,
"threshold": p, "instruments": {name: {"probability": p, "present": bool,
"active": [[start, end], ...]}}}}, most probable first.

--tags MODEL prints a music tagger's own tags instead (musicnn-mtt,
musicnn-msd, vgg-mtt, vgg-msd: its 50 tags' probabilities averaged over the
file's 3 s patches, the --top most probable); with --json, {file: {tag: p}}.
"""

import sys

from airtf.cli.common import (add_hop, add_quiet, add_replaced_weights, command_parser, one_line_warnings,
                              positive, probability, reports_errors)


def parse(argv):
    from airtf import params

    parser = command_parser("airtf-predict", __doc__)
    parser.add_argument("inputs", nargs="+", metavar="AUDIO", help="audio files")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--model", metavar="EXPORT_OR_RUN_DIR",
                       help="a SavedModel written by airtf-export (loading one runs the TensorFlow operations it "
                            "holds: load only exports you trust), a .tflite or .onnx file written by airtf-export "
                            "--format, or a run directory written by airtf-eval")
    which.add_argument("--tags", metavar="MUSICNN_MODEL",
                       help="print this tagger's own tags: musicnn-mtt, musicnn-msd, vgg-mtt, vgg-msd, or a folder "
                            "of its checkpoint")
    parser.add_argument("--top", type=positive(int), default=5, metavar="N",
                        help="with --tags: how many tags to print (default %(default)s)")
    parser.add_argument("--threshold", type=probability, metavar="P", default=params.THRESHOLD,
                        help="probability at which an instrument is present, and a frame active "
                             "(default %(default)s)")
    parser.add_argument("--json", action="store_true", help="print one JSON document for machines")
    add_quiet(parser)
    add_replaced_weights(parser, "a run directory (an export holds its own)")
    add_hop(parser, "a run directory's feature set's (an export holds its own)")
    args = parser.parse_args(argv)
    if args.tags and (args.weights or args.variant or args.pca_params or args.hop):
        parser.error("--weights, --variant, --pca-params and --hop replace a recogniser's features; --tags names its "
                     "model alone")
    return args


@reports_errors("airtf-predict")
def main(argv=None):
    args = parse(argv)
    with one_line_warnings("airtf-predict"):
        return tag_all(args) if args.tags else predict_all(args)


def tag_all(args):
    """Print each file's most probable tags (or all, as JSON); return the exit code."""
    import json

    from airtf.errors import AirtfError
    from airtf.serve import tags
    from airtf.support.files import printable

    extractor, names = tags.tagger(args.tags)
    failed, document = 0, {}
    for path in args.inputs:
        try:
            ranking = tags.file_tags(extractor, names, path)
        except AirtfError as error:  # the file's own failure, named in the message
            print(f"airtf-predict: error: {error}", file=sys.stderr)
            failed += 1
            continue
        if args.json:
            document[path] = {tag: round(probability, 4) for tag, probability in ranking}
        else:
            print(tags.format_tags(printable(path), ranking, args.top), flush=True)
    if args.json:
        print(json.dumps(document))
    if failed:
        print(f"airtf-predict: {failed} of {len(args.inputs)} files failed", file=sys.stderr)
        return 1
    return 0


def predict_all(args):
    """Predict every file that ``args`` names, printing as it goes; return the exit code."""
    from tqdm import tqdm

    from airtf.errors import AudioError
    from airtf.serve import predict
    from airtf.support.files import printable

    model = load_model(args)
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


def load_model(args):
    """The recogniser that --model names; a LiteRT or ONNX file without loading TensorFlow."""
    from airtf.serve import runtimes

    replaced = {"--weights": args.weights, "--variant": args.variant, "--pca-params": args.pca_params,
                "--hop": args.hop}
    if runtimes.format_of(args.model) is not None:
        return runtimes.load(args.model, replaced)
    from airtf.serve import export

    return export.load(args.model, weights=args.weights, variant=args.variant, pca_params=args.pca_params,
                       hop=args.hop)


if __name__ == "__main__":
    raise SystemExit(main())
