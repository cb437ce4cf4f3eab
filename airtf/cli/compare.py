"""airtf-compare: several airtf-eval runs side by side.

Prints the test F1-macro per instrument (rows) and run (columns), mean ± std
over seeds; then each run's overall F1-macro (cosmir/Gururani) and masked
mAP (PaSST/EfficientAT) with 95% bootstrap intervals over the test clips,
and a paired permutation test over the test clips for every pair of runs
(p-values); and writes OUT/comparison.json, comparison.csv, grouped
per-instrument bars (f1_per_instrument.png) and box plots of the overall
F1-macro over seeds (f1_over_seeds.png). Runs are labelled by their directory
names. The paper's Fig. 2: airtf-compare runs/pca runs/norm runs/random
runs/logmel --out fig2.
"""


from airtf.cli.common import add_out, add_overwrite, command_parser, positive, reports_errors


def parse(argv):
    parser = command_parser("airtf-compare", __doc__)
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directories written by airtf-eval")
    add_out(parser, "folder for the table, CSV, JSON and plots")
    add_overwrite(parser, "replace an earlier comparison in DIR (never other files)")
    parser.add_argument("--resamples", type=positive(int), default=1000, metavar="N",
                        help="resamplings of the test clips for the 95%% intervals and the paired tests "
                             "(default %(default)s)")
    return parser.parse_args(argv)


@reports_errors("airtf-compare")
def main(argv=None):
    args = parse(argv)
    from airtf.classify import compare

    comparison = compare.compare(args.run_dirs, args.out, overwrite=args.overwrite, resamples=args.resamples)
    print(comparison.table)
    print()
    print(comparison.statistics)
    print(f"wrote {', '.join(map(str, comparison.files))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
