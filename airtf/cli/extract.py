"""airtf-extract: log-mel, VGGish embeddings, PCA features or a musicnn layer from audio files.

Writes OUT/<output>/NAME.json (or .npz) per input file, in the layout of
OpenMIC-2018's released features: {"time_points": [...], "features": [...]}.
With --runner, the same extraction runs as an Apache Beam pipeline (the
airtf[beam] extra); Beam's own options follow a lone --, e.g.
`airtf-extract audio/ --out OUT --runner direct -- --direct_num_workers 2`.
"""

import sys
import warnings
from pathlib import Path

from airtf.cli.common import (add_hop, add_layer, add_out, add_overwrite, add_quiet, add_weights, command_parser,
                              one_line_warnings, positive, reports_errors)


def parse(argv):
    from airtf import params
    from airtf.features import extract_beam

    parser = command_parser("airtf-extract", __doc__)
    parser.add_argument("inputs", nargs="*", metavar="AUDIO_OR_DIR",
                        help="audio files or folders (searched recursively)")
    add_out(parser, "output folder (OUT/<output>/NAME.json)")
    parser.add_argument("--output", choices=params.EXTRACT_OUTPUTS, default="embedding",
                        help="logmel: N x 96 x 64; embedding: N x 128 floats; pca: N x 128 integers 0..255; "
                             "normalised: the frames an airtf-eval run's classifier reads (--weights RUN_DIR) "
                             "(default: %(default)s)")
    parser.add_argument("--format", choices=(*params.FEATURE_FORMATS, "tfrecord"), default="json",
                        help="json or npz per file (default %(default)s); tfrecord (with --runner): sharded "
                             "tf.train.SequenceExamples in AudioSet's layout")
    parser.add_argument("--batch-size", type=positive(int), default=params.EXTRACT_BATCH_SIZE, metavar="N",
                        help="examples per model call (default %(default)s)")
    parser.add_argument("--pad", action="store_true", help="zero-pad audio shorter than 0.96 s to one example")
    add_hop(parser, "the model's (time points are the examples' starts)")
    parser.add_argument("--resampler", choices=params.RESAMPLERS, default="resampy",
                        help="resampy gives the official numbers (default); soxr is faster, see README")
    add_overwrite(parser, "replace existing outputs")
    add_quiet(parser)
    weights = add_weights(parser, "the model of embedding and pca", default="official")
    add_layer(weights)
    beam = parser.add_argument_group("Apache Beam (pip install 'airtf[beam]')")
    beam.add_argument("--runner", choices=extract_beam.RUNNERS,
                      help="run as a Beam pipeline on this runner; Beam's options go after a lone --")
    beam.add_argument("--file-list", metavar="FILE",
                      help="with --runner: a file naming the audio files, one path a line (any file system "
                           "Beam reads), instead of walking folders")
    argv = list(sys.argv[1:] if argv is None else argv)
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    args.pipeline_args = argv[split + 1:]
    if args.runner is None and (args.file_list or args.pipeline_args or args.format == "tfrecord"):
        parser.error("--file-list, --format tfrecord and Beam options after -- go with --runner")
    if bool(args.inputs) == bool(args.file_list):
        parser.error("give audio files or folders, or (with --runner) --file-list, not both")
    if "://" in args.out and args.format != "tfrecord":
        parser.error(f"--out {args.out}: per-file outputs ({args.format}) go to a folder every worker writes (local, "
                     "or a shared mount); for a bucket use --format tfrecord")
    return args


@reports_errors("airtf-extract")
def main(argv=None):
    args = parse(argv)
    with one_line_warnings("airtf-extract"):
        return extract_with_beam(args) if args.runner else extract_all(args)


def extract_with_beam(args):
    """Run the extraction as a Beam pipeline on ``args.runner``; return the exit code."""
    from airtf.features import extract, extract_beam
    from airtf.support import files

    if args.file_list:
        jobs = extract_beam.read_file_list(args.file_list, args.pipeline_args)
    else:
        found = extract.find_audio(args.inputs)
        jobs = [(str(path), stem.as_posix()) for path, stem in found.files]
    if "://" not in args.out:
        files.check_writable(Path(args.out) / args.output)
    settings = extract_beam.Settings(out=args.out, output=args.output, format=args.format, weights=args.weights,
                                     variant=args.variant, pca_params=args.pca_params, layer=args.layer, hop=args.hop,
                                     batch_size=args.batch_size,
                                     pad=args.pad, resampler=args.resampler, overwrite=args.overwrite)
    summary = extract_beam.run(jobs, settings, args.runner, args.pipeline_args)
    for path, reason in summary.dead_letters:
        print(f"airtf-extract: error: {reason}", file=sys.stderr)
    print(summary.line(settings.folder))
    if summary.failed:
        print(f"airtf-extract: {summary.failed} of {len(jobs)} files failed (listed in "
              f"{settings.folder}/{extract_beam.FAILED_PREFIX}-*.tsv)", file=sys.stderr)
        return 1
    return 0


def extract_all(args):
    """Run the extraction that ``args`` describes; return the exit code."""
    from tqdm import tqdm

    from airtf.errors import BrokenLinkWarning
    from airtf.features import extract
    from airtf.support import files

    plan = extract.plan(args.inputs, args.out, args.output, args.format, args.overwrite)
    for link in plan.broken_links:
        warnings.warn(BrokenLinkWarning(f"{files.display(link)}: a broken symbolic link (its target is missing, or "
                                        "links loop); skipped"))
    files.check_writable(Path(args.out) / args.output)
    extractor = extract.make_extractor(args.output, args.weights, args.variant, args.pca_params, args.layer, args.hop,
                                       batch_size=args.batch_size, pad=args.pad, resampler=args.resampler)
    with tqdm(total=len(plan.jobs), unit="file", disable=args.quiet or not plan.jobs) as bar:
        def done(path, error):
            if error:
                bar.write(f"airtf-extract: error: {error}", file=sys.stderr)
            bar.update()
        report = extractor.run(plan.jobs, on_file_done=done)
    if report.stopped:
        print(f"airtf-extract: error: {report.stopped}", file=sys.stderr)
    print(extract.summary_line(files.printable(Path(args.out) / args.output), len(report.written), report.examples,
                               plan.existing, len(report.empty), len(plan.broken_links)))
    unwritten = len(plan.jobs) - len(report.written) - len(report.empty) - len(report.failed)
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
