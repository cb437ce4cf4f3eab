"""airtf-extract: log-mel, VGGish embeddings or PCA features from audio files.

Writes OUT/<output>/NAME.json (or .npz) per input file, in the layout of
OpenMIC-2018's released features: {"time_points": [...], "features": [...]}.
"""

import sys
from pathlib import Path

from airtf.cli.common import (add_out, add_overwrite, add_quiet, add_weights, command_parser, one_line_warnings,
                              positive, reports_errors)


def parse(argv):
    from airtf import params

    parser = command_parser("airtf-extract", __doc__)
    parser.add_argument("inputs", nargs="+", metavar="AUDIO_OR_DIR",
                        help="audio files or folders (searched recursively)")
    add_out(parser, "output folder (OUT/<output>/NAME.json)")
    parser.add_argument("--output", choices=params.EXTRACT_OUTPUTS, default="embedding",
                        help="logmel: N x 96 x 64; embedding: N x 128 floats; pca: N x 128 integers 0..255 "
                             "(default: %(default)s)")
    parser.add_argument("--format", choices=params.FEATURE_FORMATS, default="json", help="default %(default)s")
    parser.add_argument("--batch-size", type=positive(int), default=64, metavar="N",
                        help="examples per model call (default %(default)s)")
    parser.add_argument("--pad", action="store_true", help="zero-pad audio shorter than 0.96 s to one example")
    parser.add_argument("--resampler", choices=params.RESAMPLERS, default="resampy",
                        help="resampy gives the official numbers (default); soxr is faster, see README")
    add_overwrite(parser, "replace existing outputs")
    add_quiet(parser)
    add_weights(parser, "the VGGish of embedding and pca", default="official")
    return parser.parse_args(argv)


@reports_errors("airtf-extract")
def main(argv=None):
    args = parse(argv)
    with one_line_warnings("airtf-extract"):
        return extract_all(args)


def extract_all(args):
    """Run the extraction that ``args`` describes; return the exit code."""
    from tqdm import tqdm

    from airtf import extract, files

    plan = extract.plan(args.inputs, args.out, args.output, args.format, args.overwrite)
    for link in plan.broken_links:
        print(f"airtf-extract: warning: {link}: a broken symbolic link (its target is missing, or links loop); "
              "skipped", file=sys.stderr)
    files.check_writable(Path(args.out) / args.output)
    extractor = extract.make_extractor(args.output, args.weights, args.variant, args.pca_params,
                                       batch_size=args.batch_size, pad=args.pad, resampler=args.resampler)
    with tqdm(total=len(plan.jobs), unit="file", disable=args.quiet or not plan.jobs) as bar:
        def done(path, error):
            if error:
                bar.write(f"airtf-extract: error: {error}", file=sys.stderr)
            bar.update()
        report = extractor.run(plan.jobs, on_file_done=done)
    if report.stopped:
        print(f"airtf-extract: error: {report.stopped}", file=sys.stderr)
    kept = [f"kept {plan.existing} existing (--overwrite replaces them)"] if plan.existing else []
    kept += [f"skipped {len(plan.broken_links)} broken links"] if plan.broken_links else []
    print(f"wrote {len(report.written)} files ({report.examples} examples) to {Path(args.out) / args.output}"
          + "".join(f"; {note}" for note in kept))
    unwritten = len(plan.jobs) - len(report.written) - len(report.failed)
    if report.stopped:
        print(f"airtf-extract: stopped: {unwritten} of {len(plan.jobs)} files not written, "
              f"{len(report.failed)} failed", file=sys.stderr)
        return 1
    if report.failed:
        print(f"airtf-extract: {len(report.failed)} of {len(plan.jobs)} files failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
