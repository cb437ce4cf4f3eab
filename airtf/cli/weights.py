"""airtf-weights: fetch, verify and convert the official VGGish files."""

import sys

from airtf.cli.common import command_parser, download_progress_bar, reports_errors


def parse(argv):
    parser = command_parser("airtf-weights", __doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    fetch = commands.add_parser("fetch", help="download (or copy with --from) and verify the official files")
    fetch.add_argument("names", nargs="*", help="which files (default: all in models/manifest.json)")
    fetch.add_argument("--from", dest="source", metavar="DIR", help="copy from a folder holding the files")
    fetch.add_argument("--out", metavar="DIR",
                       help="destination (default: $AIRTF_MODELS, a checkout's models/, else ~/.cache/airtf/models)")
    verify = commands.add_parser("verify", help="check files against the manifest's sizes and checksums")
    verify.add_argument("files", nargs="+")
    convert = commands.add_parser("convert", help="convert a TF1 checkpoint to a Keras .weights.h5")
    convert.add_argument("checkpoint", nargs="?", help="default: vggish_model.ckpt in the models folder")
    convert.add_argument("--out", metavar="FILE", help="default: vggish_model.weights.h5 in the models folder")
    return parser.parse_args(argv)


@reports_errors("airtf-weights")
def main(argv=None):
    args = parse(argv)
    from airtf.support.files import display
    from airtf.vggish import presets as weights

    if args.command == "fetch":
        return fetch_each(args)
    if args.command == "verify":
        for path in args.files:
            print(f"{path}: OK, the official {weights.verify(path)}")
    else:
        print(f"wrote {display(weights.convert(args.checkpoint, args.out))}")
    return 0


def fetch_each(args):
    """Fetch the files one by one, so that one failure does not hide the others."""
    from airtf.errors import AirtfError
    from airtf.support.files import display
    from airtf.vggish import presets as weights

    failed = 0
    for name in args.names or list(weights.manifest()):
        try:
            for _, path, action in weights.fetch([name], args.out, args.source,
                                                 progress=download_progress_bar(name)):
                print(f"{name}: {action}, verified: {display(path)}")
        except AirtfError as error:
            print(f"airtf-weights: error: {error}", file=sys.stderr)
            failed += 1
    return 2 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
