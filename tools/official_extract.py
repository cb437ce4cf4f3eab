"""PCA features the way the official VGGish code computes them, one file at a time (a baseline process).

    python tools/official_extract.py AUDIO... --checkpoint vggish_model.ckpt --pca-params vggish_pca_params.npz --out DIR

What ``vggish_inference_demo.py`` does per file, as its own process: the
checkpoint restored into a TF1 graph by a Saver (tests/tf1_vggish.py, the
official variable names, ReLU after fc2 as in the 2017 release); then for each
file soundfile, the channel mean, resampy to 16 kHz, the numpy front end
(tests/reference_frontend.py), one session call, and the official
post-processing (PCA, clip to [-2, 2], 8-bit quantisation). Each file's
features are written as DIR/<name>.npy. tools/bench_extract.py times this
process against airtf-extract.
"""

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import numpy as np  # noqa: E402

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("audio", nargs="+", type=Path)
    parser.add_argument("--checkpoint", required=True, type=Path)
    parser.add_argument("--pca-params", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)

    import resampy
    import soundfile

    import reference_frontend
    import tf1_vggish

    with np.load(args.pca_params) as pca:
        means, eigen_vectors = pca["pca_means"], pca["pca_eigen_vectors"]
    session, features, embedding = tf1_vggish.restored_session(args.checkpoint)
    args.out.mkdir(parents=True, exist_ok=True)
    for path in args.audio:
        samples, rate = soundfile.read(path)
        waveform = samples.mean(axis=1) if samples.ndim > 1 else samples
        waveform = resampy.resample(waveform, rate, reference_frontend.SAMPLE_RATE)
        examples = reference_frontend.examples(waveform).astype(np.float32)
        np.save(args.out / f"{path.stem}.npy",
                tf1_vggish.official_postprocess(session.run(embedding, {features: examples}), means, eigen_vectors))


if __name__ == "__main__":
    main()
