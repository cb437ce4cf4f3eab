"""The constants airtf's defaults come from, in one place, importing nothing.

The VGGish numbers are the values of the official AudioSet VGGish
(tensorflow/models, research/audioset/vggish): changing one changes what
"official numbers" means, so the rest of airtf reads them from here only.
The names and defaults below them (outputs, resamplers, the paper's
classifier settings) live here too, so that the command lines can offer
them in ``--help`` without loading TensorFlow.

May import: nothing.
"""

VERSION = "0.1.0"
"""airtf's version (setup.cfg reads it; run records and exports store it)."""

SAMPLE_RATE = 16000
"""Sample rate of the waveform fed to the front end, in Hz."""
BLOCK_SECONDS = 10.0
"""Seconds of audio a streaming reader reads at once. Blocks of 60 s held the front end's intermediates
of two 60 s segments at once, 100 MB more than a one-block file; measured in tools/bench_predict_memory.py."""

STFT_WINDOW_SECONDS = 0.025
STFT_HOP_SECONDS = 0.010
STFT_WINDOW = int(round(SAMPLE_RATE * STFT_WINDOW_SECONDS))  # 400 samples
STFT_HOP = int(round(SAMPLE_RATE * STFT_HOP_SECONDS))  # 160 samples
FFT_LENGTH = 1 << (STFT_WINDOW - 1).bit_length()  # 512: next power of two
NUM_SPECTROGRAM_BINS = FFT_LENGTH // 2 + 1  # 257

NUM_MEL_BINS = 64
MEL_MIN_HZ = 125.0
MEL_MAX_HZ = 7500.0
MEL_BREAK_HZ = 700.0
MEL_HIGH_Q = 1127.0
LOG_OFFSET = 0.01

EXAMPLE_WINDOW_SECONDS = 0.96
EXAMPLE_HOP_SECONDS = 0.96
EXAMPLE_FRAMES = int(round(EXAMPLE_WINDOW_SECONDS / STFT_HOP_SECONDS))  # 96
EXAMPLE_HOP_FRAMES = int(round(EXAMPLE_HOP_SECONDS / STFT_HOP_SECONDS))  # 96
EXAMPLE_SAMPLES = STFT_WINDOW + (EXAMPLE_FRAMES - 1) * STFT_HOP  # 15600
"""Fewest 16 kHz samples that make one example."""
EXAMPLE_HOP_SAMPLES = EXAMPLE_HOP_FRAMES * STFT_HOP  # 15360

EMBEDDING_SIZE = 128
FLATTENED_SIZE = 6 * 4 * 512  # pool4 output, channels last

VGGISH_VARIANTS = ("audioset-2017", "audioset-2020")
"""audioset-2017 has a ReLU after fc2 (the release that made OpenMIC-2018's features); audioset-2020 does not."""
DEFAULT_VARIANT = "audioset-2017"

PCA_MEANS_NAME = "pca_means"
PCA_EIGEN_VECTORS_NAME = "pca_eigen_vectors"
QUANTIZE_MIN = -2.0
QUANTIZE_MAX = 2.0

# ---------------------------------------------------------------- extraction

RESAMPLERS = ("resampy", "soxr")
"""resampy's kaiser_best gives the official numbers; soxr (HQ) is the alternative."""
EXTRACT_OUTPUTS = ("logmel", "embedding", "pca", "normalised")
EXTRACT_BATCH_SIZE = 128
"""Examples per model call in extraction: 8 % faster than 64 on 2 CPU cores, 200 MB more (tools/bench_extract.py)."""
"""What airtf-extract and airtf.embed compute: log-mel examples, VGGish embeddings, the official PCA features."""
FEATURE_FORMATS = ("json", "npz")
"""Feature files: OpenMIC-2018's JSON layout, or .npz of the same arrays."""

# ---------------------------------------------------------------- the paper's second stage

FEATURE_SETS = ("pca", "norm", "random", "logmel")
"""The feature sets airtf-eval names (a pre-training run is named by its path)."""
PRETRAIN_STRATEGIES = ("default", "mirrored", "multi-worker")
"""airtf-pretrain's --strategy: no distribution, MirroredStrategy, MultiWorkerMirroredStrategy."""

CLASSIFIER_SEEDS = (0, 42, 1346)
CLASSIFIER_EPOCHS = 350
CLASSIFIER_BATCH_SIZE = 128
CLASSIFIER_LEARNING_RATE = 5e-4
CLASSIFIER_NORMS = ("group", "batch")
"""GroupNormalization (the paper) or BatchNormalization (the original code)."""
THRESHOLD = 0.5
"""An instrument is present, and a frame active, where its probability reaches it."""

# ---------------------------------------------------------------- reports

FIGURE_DPI = 120
"""Resolution of every figure airtf draws (PNG files and TensorBoard images)."""
