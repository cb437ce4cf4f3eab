"""airtf-data: the real data sets downloaded, demo sets rendered, any of them checked.

`airtf-data download openmic --out DIR` fetches OpenMIC-2018 (NSynth likewise),
checks its size and checksum, and unpacks it safely; rerun it to resume.
`airtf-data demo --out DIR` renders real instrument audio from a General MIDI
soundfont into DIR/openmic, DIR/nsynth and DIR/freesound, which airtf's
loaders read as they read the real data sets. `airtf-data check` reads
folders back through the loaders.
"""

import argparse
import time
from pathlib import Path

from airtf.cli.common import (add_out, add_overwrite, add_quiet, add_seed, add_weights, command_parser,
                              download_progress_bar, positive, reports_errors)


def _sets(text):
    from airtf.demo import SETS

    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = sorted(set(names) - set(SETS))
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown set(s) {', '.join(unknown) or text!r}; choose from {','.join(SETS)}")
    return names


def _splits(text):
    from airtf.datasets.releases import SPLITS

    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names or set(names) - set(SPLITS):
        raise argparse.ArgumentTypeError(f"{text!r}: choose splits from {','.join(SPLITS)}")
    return names


def parse(argv):
    from airtf.demo import DEFAULT_SIZES, SETS

    parser = command_parser("airtf-data", __doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    download = commands.add_parser("download", help="download, verify and unpack OpenMIC-2018 or NSynth "
                                                    "(rerun to resume; nothing is redone)")
    download.add_argument("dataset", choices=("openmic", "nsynth"))
    add_out(download, "the data set's folder")
    download.add_argument("--format", choices=("jsonwav", "tfrecord"),
                          help="NSynth's release format (default jsonwav)")
    download.add_argument("--splits", type=_splits, metavar="NAMES", help="NSynth splits, e.g. train,valid "
                                                                          "(default all)")
    download.add_argument("--mirror", metavar="URL", help="a base URL that replaces the published one")
    download.add_argument("--keep-archives", action="store_true",
                          help="keep the archives in DIR/archives after a verified unpack")
    add_quiet(download)
    demo = commands.add_parser("demo", help="render demo sets from a General MIDI soundfont")
    add_out(demo, "folder that receives one folder per set")
    demo.add_argument("--sets", type=_sets, default=list(SETS), metavar="NAMES",
                      help=f"comma-separated, from {','.join(SETS)} (default: all)")
    add_seed(demo, "equal seeds give equal sets")
    demo.add_argument("--openmic-clips", type=positive(), default=DEFAULT_SIZES["openmic"], metavar="N",
                      help="10 s clips (default %(default)s)")
    demo.add_argument("--nsynth-notes", type=positive(), default=DEFAULT_SIZES["nsynth"], metavar="N",
                      help="4 s notes (default %(default)s)")
    demo.add_argument("--freesound-clips", type=positive(), default=DEFAULT_SIZES["freesound"], metavar="N",
                      help="2-6 s clips (default %(default)s)")
    demo.add_argument("--soundfont", metavar="SF2", help="a General MIDI .sf2 (default: TimGM6mb.sf2 from pretty_midi)")
    add_overwrite(demo, "replace set folders of an earlier demo render (never other folders)")
    add_quiet(demo)
    add_weights(demo, "fill OpenMIC's X and vggish/ with the features of this VGGish (default: leave them out)")
    check = commands.add_parser("check", help="read data sets back through airtf's loaders and summarise them "
                                              "(exit status 1 when one has a problem)")
    check.add_argument("--openmic", metavar="DIR", help="an OpenMIC-2018 folder")
    check.add_argument("--nsynth", metavar="DIR", help="an NSynth folder (TFRecord or json/wav)")
    check.add_argument("--freesound", metavar="DIR", help="a Freesound-tags folder")
    return parser.parse_args(argv)


@reports_errors("airtf-data")
def main(argv=None):
    args = parse(argv)
    return {"download": download, "demo": render, "check": check}[args.command](args)


def download(args):
    """Fetch a released data set and say what was done."""
    from airtf.datasets import releases

    if args.dataset == "openmic" and (args.format or args.splits):
        raise SystemExit("airtf-data download: --format and --splits are for nsynth; OpenMIC-2018 is one archive")
    outcomes = releases.fetch(args.dataset, args.out, args.format, args.splits, args.mirror, args.keep_archives,
                              progress=None if args.quiet else download_progress_bar)
    for outcome in outcomes:
        print(outcome.message)
    kind = "--openmic" if args.dataset == "openmic" else "--nsynth"
    print(f"next: airtf-data check {kind} {args.out}")
    return 0


def check(args):
    """Print what the loaders read from each folder given."""
    from airtf.datasets.freesound import Freesound
    from airtf.datasets.nsynth import NSynth
    from airtf.datasets.openmic import OpenMIC
    from airtf.demo import sets as demo

    folders = {OpenMIC: args.openmic, NSynth: args.nsynth, Freesound: args.freesound}
    if not any(folders.values()):
        raise SystemExit("airtf-data check: give at least one of --openmic, --nsynth, --freesound")
    problems = 0
    for kind, folder in folders.items():
        if folder:
            lines, ok = kind(folder).check()
            demo_line = demo.describe(folder)
            print("\n".join(lines[:1] + ([f"  {demo_line}"] if demo_line else []) + lines[1:]))
            problems += not ok
    return 1 if problems else 0


def render(args):
    """Render the demo sets that ``args`` asks for."""
    from airtf.demo import sets as demo

    backbone = pca = None
    if args.weights and "openmic" in args.sets:  # loaded first: a missing file fails before any rendering
        from airtf import vggish

        backbone = vggish.from_preset(args.weights, args.variant)
        pca = vggish.PCAQuantize.from_file(args.pca_params or vggish.presets.official_pca_params())
    sizes = {"openmic": args.openmic_clips, "nsynth": args.nsynth_notes, "freesound": args.freesound_clips}
    results = demo.render_demo(args.out, args.sets, sizes, args.seed, args.soundfont, args.overwrite,
                               progress=not args.quiet)
    for result in results:
        print(f"{result.folder}: {result.summary} ({result.seconds:.1f} s)")
    if backbone is not None:
        from airtf.features import extract

        began = time.perf_counter()
        clips = extract.fill_released_features(Path(args.out) / "openmic", backbone, pca, progress=not args.quiet)
        print(f"{Path(args.out) / 'openmic'}: X and vggish/ filled with the features of "
              f"{vggish.WeightsSource.parse(args.weights, args.variant).describe()} for {clips} clips "
              f"({time.perf_counter() - began:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
