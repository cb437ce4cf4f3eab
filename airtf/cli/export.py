"""airtf-export: an airtf-eval run directory as a SavedModel that takes a waveform.

The serving signature takes a mono 16 kHz float32 waveform of any length and
returns the instruments' probabilities, their per-frame activity with time
stamps, the attention, the frame features and the log-mel examples; the
metadata signature and assets/class_names.csv give the class names; three
more signatures let airtf-predict run it over audio of any length in bounded
memory. See airtf/serve/export.py.

--overwrite replaces only a folder that holds an earlier export
(airtf-export.json), never the current folder or the run directory.

--format litert or onnx writes the recogniser as one .tflite or .onnx file
that runs without TensorFlow (ai-edge-litert, ONNX Runtime): the same
outputs from builtin operations only, PCA in float32
(airtf/serve/portable.py); airtf-predict --model runs it. --quantize
float16 or dynamic-int8 shrinks a LiteRT file. Without RUN_DIR, litert or
onnx write a VGGish embedder: a waveform (1, samples) at 16 kHz in,
embeddings (n, 128) out (--output pca: the official post-processing's uint8
features); --weights and --variant name the VGGish, --hop spaces its
examples. The ONNX conversion (tf2onnx) takes about 16 GB of memory for
VGGish's 72 M weights.
"""


from airtf.cli.common import (add_hop, add_out, add_overwrite, add_replaced_weights, command_parser,
                              one_line_warnings, reports_errors)


def parse(argv):
    parser = command_parser("airtf-export", __doc__)
    parser.add_argument("run_dir", metavar="RUN_DIR", nargs="?", help="a run directory written by airtf-eval")
    add_out(parser, "the SavedModel directory to write, or the .tflite / .onnx file", metavar="EXPORT_DIR_OR_FILE")
    parser.add_argument("--format", choices=("savedmodel", "litert", "onnx"), default="savedmodel",
                        help="savedmodel (default), or a file that runs without TensorFlow: litert, onnx (pip "
                             "install 'airtf[litert]' or 'airtf[onnx]' to run it); without RUN_DIR a VGGish embedder")
    parser.add_argument("--quantize", choices=("float16", "dynamic-int8"),
                        help="litert only: store the weights as float16, or as int8 with float computation")
    parser.add_argument("--output", choices=("embedding", "pca"),
                        help="the embedder's output (no RUN_DIR): VGGish's embedding (default), or the official "
                             "post-processing's uint8 PCA features (--pca-params, default the official file)")
    add_overwrite(parser, "replace EXPORT_DIR if it holds an earlier export, or the file (never other files)")
    add_replaced_weights(parser, "the run")
    add_hop(parser, "the run's feature set's")
    args = parser.parse_args(argv)
    if args.format == "savedmodel" and args.run_dir is None:
        parser.error("--format savedmodel exports RUN_DIR's recogniser; give RUN_DIR, or --format litert or onnx "
                     "for a VGGish embedder")
    if args.run_dir is not None and args.output is not None:
        parser.error("--output chooses an embedder's output; a recogniser's export gives its outputs (leave out "
                     "RUN_DIR for an embedder)")
    if args.run_dir is None and args.pca_params is not None and args.output != "pca":
        parser.error("--pca-params goes with --output pca for an embedder")
    if args.quantize and args.format != "litert":
        parser.error("--quantize applies to --format litert only")
    return args


@reports_errors("airtf-export")
def main(argv=None):
    args = parse(argv)
    from airtf.support import locks

    with locks.holding(args.out, "airtf-export", beside=True):  # before TensorFlow loads: refused at once
        if args.format == "savedmodel":
            return _export(args)
        return _export_file(args, _write_recognizer if args.run_dir else _write_embedder)


def _export_file(args, write):
    """Write a LiteRT or ONNX file with ``write(args, path)`` atomically; print what it holds."""
    from pathlib import Path

    from airtf.errors import AirtfError
    from airtf.support.files import atomic_path, display

    out = Path(args.out)
    if out.exists() and not args.overwrite:
        raise AirtfError(f"{out}: exists; pass --overwrite to replace it, or another --out")
    with one_line_warnings("airtf-export"), atomic_path(out) as temporary:
        lines = write(args, temporary)
    quantized = f" ({args.quantize} weights)" if args.quantize else ""
    print(f"wrote {display(out)}: {args.format}{quantized}, {out.stat().st_size / 1e6:.1f} MB; {lines[0]}")
    for line in lines[1:]:
        print(f"  {line}")
    return 0


def _write_embedder(args, path):
    from airtf import vggish
    from airtf.serve import portable
    from airtf.vggish import presets

    pca_params = (args.pca_params or presets.official_pca_params()) if args.output == "pca" else None
    model = portable.embedder(vggish.from_preset(args.weights or "official", args.variant), args.format, pca_params,
                              args.hop)
    portable.export(model, path, args.format, args.quantize)
    output = "PCA features (n, 128) uint8" if pca_params else "embeddings (n, 128) float32"
    hop = f", an example every {args.hop:g} s" if args.hop else ""
    return [f"waveform (1, samples) float32, 16 kHz -> {output}{hop}"]


def _write_recognizer(args, path):
    from airtf.serve import export, portable

    pipeline = export.Pipeline.from_run(args.run_dir, weights=args.weights, variant=args.variant,
                                        pca_params=args.pca_params, hop=args.hop)
    written = portable.write_recognizer(pipeline, path, args.format, args.quantize)
    classes, size = len(written["class_names"]), written["feature_size"]
    layers, groups, _ = written["statistics_shape"]
    entries = [f"waveform (samples,) float32, 16 kHz -> probabilities ({classes},), frame_probabilities, attention "
               f"(T, {classes}), timestamps (T,), features (T, {size}), log_mel",
               f"segment (samples,) of whole examples -> segment_features (t, {size})",
               f"chunk (t, {size}), statistics ({layers}, {groups}, 2) -> chunk_mean, chunk_variance ({layers}, "
               f"{groups}), chunk_attention_weights, chunk_frame_probabilities (t, {classes})"]
    if args.format == "litert":
        signatures = (portable.SERVING_SIGNATURE, portable.SEGMENT_SIGNATURE, portable.CHUNK_SIGNATURE)
        entries = [f"{signature}: {entry}" for signature, entry in zip(signatures, entries)]
    else:
        entries.insert(0, "one graph: a waveform always; segment, chunk and statistics have defaults")
    return [f"{classes} instruments ({', '.join(written['class_names'])})", *entries,
            f"metadata {portable.METADATA_NAME!r} (JSON): class names, frame_hop_seconds "
            f"{written['frame_hop_seconds']:g}, framing; airtf-predict --model runs it"]


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
