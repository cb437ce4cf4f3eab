"""airtf-weights: fetch, verify and convert the official VGGish files, and fetch musicnn's checkpoints.

`airtf-weights fetch` gets the official VGGish files; `airtf-weights fetch musicnn` (or a musicnn preset:
musicnn-mtt, musicnn-msd, vgg-mtt, vgg-msd) gets musicnn 0.1.0's published wheel from PyPI, verifies its
sha256 and unpacks only its four checkpoints.
"""

import sys

from airtf.cli.common import command_parser, download_progress_bar, reports_errors


def parse(argv):
    parser = command_parser("airtf-weights", __doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    fetch = commands.add_parser("fetch", help="download (or copy with --from) and verify the official files")
    fetch.add_argument("names", nargs="*",
                       help="official VGGish files (default: both), or musicnn (any musicnn preset names it)")
    fetch.add_argument("--from", dest="source", metavar="DIR",
                       help="copy from a folder holding the files (for musicnn: its wheel)")
    fetch.add_argument("--mirror", metavar="URL", help="download from this base address instead of the published one")
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

    from airtf import musicnn
    from airtf.musicnn import presets as musicnn_presets

    failed = 0
    for name in _requested(args.names, weights.manifest(), musicnn_presets.presets()):
        try:
            if name == "musicnn":
                fetched = musicnn.fetch(args.out and f"{args.out}/musicnn", args.source, args.mirror,
                                        progress=download_progress_bar("musicnn wheel"))
            else:
                fetched = weights.fetch([name], args.out, args.source, mirror=args.mirror,
                                        progress=download_progress_bar(name))
            for part, where, action in fetched:  # where: a path, or the address a wheel came from
                print(f"{part}: {action}, verified: {where if isinstance(where, str) else display(where)}")
        except AirtfError as error:
            print(f"airtf-weights: error: {error}", file=sys.stderr)
            failed += 1
    return 2 if failed else 0


def _requested(names, official_files, musicnn_presets):
    """The fetches ``names`` ask for, each once: official file names, and "musicnn" for any musicnn name."""
    requested = []
    for name in names or list(official_files):
        name = "musicnn" if name in musicnn_presets else name
        if name not in requested:
            requested.append(name)
    return requested


if __name__ == "__main__":
    raise SystemExit(main())
