"""airtf-extract: log-mel, VGGish embeddings or PCA features from audio files.

Writes OUT/<output>/NAME.json (or .npz) per input file, in the layout of
OpenMIC-2018's released features: {"time_points": [...], "features": [...]}.
"""

import argparse
import sys
from pathlib import Path

from airtf.cli.common import one_line_warnings, positive, reports_errors


def parse(argv):
    from airtf import audio, extract, outputs, vggish

    parser = argparse.ArgumentParser(prog="airtf-extract", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="+", metavar="AUDIO_OR_DIR", help="audio files or folders (searched recursively)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--output", choices=extract.OUTPUTS, default="embedding",
                        help="logmel: N x 96 x 64; embedding: N x 128 floats; pca: N x 128 integers 0..255 "
                             "(default: %(default)s)")
    parser.add_argument("--weights", default="official", metavar="FILE_OR_RUN_DIR",
                        help="official (default), random, a .weights.h5, a TF1 checkpoint or a run directory")
    parser.add_argument("--variant", choices=sorted(vggish.VARIANTS), default=vggish.DEFAULT_VARIANT,
                        help="audioset-2017 has a ReLU after fc2 (OpenMIC-2018's features); default %(default)s")
    parser.add_argument("--pca-params", metavar="FILE", help="vggish_pca_params.npz (default: models/)")
    parser.add_argument("--format", choices=outputs.FORMATS, default="json", help="default %(default)s")
    parser.add_argument("--batch-size", type=positive(int), default=64, metavar="N",
                        help="examples per model call (default %(default)s)")
    parser.add_argument("--pad", action="store_true", help="zero-pad audio shorter than 0.96 s to one example")
    parser.add_argument("--resampler", choices=audio.RESAMPLERS, default="resampy",
                        help="resampy gives the official numbers (default); soxr is faster, see README")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
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

    found = extract.find_audio(args.inputs)
    for link in found.broken_links:
        print(f"airtf-extract: warning: {link}: a broken symbolic link (its target is missing, or links loop); "
              "skipped", file=sys.stderr)
    jobs, existing = [], 0
    for path, stem in found.files:
        target = extract.output_path(args.out, args.output, stem, args.format)
        if target.exists() and not args.overwrite:
            existing += 1
        else:
            jobs.append((path, target))
    files.check_writable(Path(args.out) / args.output)
    extractor = extract.Extractor(args.output, *_model(args), batch_size=args.batch_size, pad=args.pad,
                                  resampler=args.resampler)
    with tqdm(total=len(jobs), unit="file", disable=args.quiet or not jobs) as bar:
        def done(path, error):
            if error:
                bar.write(f"airtf-extract: error: {error}", file=sys.stderr)
            bar.update()
        report = extractor.run(jobs, on_file_done=done)
    if report.stopped:
        print(f"airtf-extract: error: {report.stopped}", file=sys.stderr)
    kept = [f"kept {existing} existing (--overwrite replaces them)"] if existing else []
    kept += [f"skipped {len(found.broken_links)} broken links"] if found.broken_links else []
    print(f"wrote {len(report.written)} files ({report.examples} examples) to {Path(args.out) / args.output}"
          + "".join(f"; {note}" for note in kept))
    unwritten = len(jobs) - len(report.written) - len(report.failed)
    if report.stopped:
        print(f"airtf-extract: stopped: {unwritten} of {len(jobs)} files not written, "
              f"{len(report.failed)} failed", file=sys.stderr)
        return 1
    if report.failed:
        print(f"airtf-extract: {len(report.failed)} of {len(jobs)} files failed", file=sys.stderr)
        return 1
    return 0


def _model(args):
    """(backbone, postprocess) for the chosen output."""
    if args.output == "logmel":
        return None, None
    from airtf import vggish

    backbone = vggish.from_preset(args.weights, args.variant)
    if args.output == "embedding":
        return backbone, None
    return backbone, vggish.PCAQuantize.from_file(args.pca_params or vggish.presets.official_pca_params())


if __name__ == "__main__":
    raise SystemExit(main())
