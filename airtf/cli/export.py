"""airtf-export: an airtf-eval run directory as a SavedModel that takes a waveform.

The serving signature takes a mono 16 kHz float32 waveform of any length and
returns the instruments' probabilities, their per-frame activity with time
stamps, the attention, the frame features and the log-mel examples; the
metadata signature and assets/class_names.csv give the class names; three
more signatures let airtf-predict run it over audio of any length in bounded
memory. See airtf/export.py.

--overwrite replaces only a folder that holds an earlier export
(airtf-export.json), never the current folder or the run directory.

--format litert or onnx (without RUN_DIR) writes an embedder for devices:
a waveform (1, samples) at 16 kHz in, VGGish embeddings (n, 128) out, built
from builtin operations only (airtf/serve/portable.py); --weights and
--variant name the VGGish. The ONNX conversion (tf2onnx) takes about 16 GB
of memory for VGGish's 72 M weights.
"""


from airtf.cli.common import (add_hop, add_out, add_overwrite, add_replaced_weights, command_parser,
                              one_line_warnings, reports_errors)


def parse(argv):
    parser = command_parser("airtf-export", __doc__)
    parser.add_argument("run_dir", metavar="RUN_DIR", nargs="?",
                        help="a run directory written by airtf-eval (for --format savedmodel)")
    add_out(parser, "the SavedModel directory to write, or the .tflite / .onnx file", metavar="EXPORT_DIR_OR_FILE")
    parser.add_argument("--format", choices=("savedmodel", "litert", "onnx"), default="savedmodel",
                        help="savedmodel: the recogniser of RUN_DIR (default); litert, onnx: a VGGish embedder "
                             "(no RUN_DIR; pip install 'airtf[litert]' or 'airtf[onnx]' to run it)")
    add_overwrite(parser, "replace EXPORT_DIR if it holds an earlier export, or the file (never other files)")
    add_replaced_weights(parser, "the run")
    add_hop(parser, "the run's feature set's")
    args = parser.parse_args(argv)
    if (args.format == "savedmodel") != (args.run_dir is not None):
        parser.error("--format savedmodel exports RUN_DIR's recogniser; --format litert or onnx exports a VGGish "
                     "embedder and takes no RUN_DIR (recognisers export as SavedModels only, so far)")
    if args.format != "savedmodel" and (args.hop is not None or args.pca_params is not None):
        parser.error("--hop and --pca-params apply to a recogniser's export; the litert/onnx embedder gives "
                     "VGGish's embeddings every 0.96 s")
    return args


@reports_errors("airtf-export")
def main(argv=None):
    args = parse(argv)
    from airtf.support import locks

    with locks.holding(args.out, "airtf-export", beside=True):  # before TensorFlow loads: refused at once
        return _export(args) if args.format == "savedmodel" else _export_embedder(args)


def _export_embedder(args):
    from pathlib import Path

    from airtf import vggish
    from airtf.errors import AirtfError
    from airtf.serve import portable
    from airtf.support.files import atomic_path, display

    out = Path(args.out)
    if out.exists() and not args.overwrite:
        raise AirtfError(f"{out}: exists; pass --overwrite to replace it, or another --out")
    with one_line_warnings("airtf-export"):
        model = portable.embedder(vggish.from_preset(args.weights or "official", args.variant))
        with atomic_path(out) as temporary:
            portable.export(model, temporary, args.format)
    print(f"wrote {display(out)}: {args.format}, {out.stat().st_size / 1e6:.1f} MB; waveform (1, samples) float32, "
          f"16 kHz -> embeddings (n, 128) float32")
    return 0


def _export(args):
    from airtf.serve import export

    with one_line_warnings("airtf-export"):
        info = export.export(args.run_dir, args.out, overwrite=args.overwrite, weights=args.weights,
                             variant=args.variant, pca_params=args.pca_params, hop=args.hop)
    print(f"wrote {info.path}: {len(info.class_names)} instruments ({', '.join(info.class_names)})")
    print(f"  {export.SERVING_SIGNATURE}: waveform (samples,) float32, 16 kHz ->")
    for name, shape in info.output_shapes.items():
        print(f"    {name:<19} {_shape_text(shape, 'n' if name == 'log_mel' else 'T')}")
    print(f"  {export.METADATA_SIGNATURE}: class_names, class_names_file (assets/{export.CLASS_NAMES_ASSET}), "
          f"frame_hop_seconds, sample_rate, statistics_shape, statistics_layers, {', '.join(export.FRAMING)}")
    print(f"  for audio of any length in bounded memory (airtf-predict): {', '.join(export.STREAMING_OUTPUTS)}")
    return 0


def _shape_text(shape, unknown):
    """(None, 20) -> "(T, 20)", naming the size that depends on the waveform's length ``unknown``."""
    sizes = [unknown if size is None else str(size) for size in shape]
    return f"({', '.join(sizes)}{',' if len(sizes) == 1 else ''})"


if __name__ == "__main__":
    raise SystemExit(main())
