"""Benchmark an epoch of attention-classifier training on OpenMIC-sized features.

    python tools/bench_attention.py [--clips N] [--validation-clips V] [--epochs E]

Generates random features shaped like OpenMIC-2018's training partition
(14,915 clips x 10 frames x 128, values in [0, 1]) with random labels and
masks, and trains a fresh AttentionClassifier (group norm, batches of 128)
in each setting below. After one untimed epoch each (tracing, compiling),
the settings take turns, one epoch each, for E rounds; the fastest epoch of
each (the least disturbed by other processes) is kept, in wall-clock
seconds and in CPU seconds of the process (all threads).

  numpy, Keras defaults    the baseline: model.fit(x, y) on in-memory arrays,
                           compiled with Keras's defaults (no XLA on CPU, 1 step
                           per execution)
  airtf-eval, before       the airtf-eval epoch before issue 21: Keras's own Dropout
                           (Philox masks), airtf's compile with the masked F1-macro
                           compiled in as a metric, fit with validation_data (Keras's
                           validation pass), and the validation set predicted again
                           to score it per instrument
  airtf-eval               an airtf-eval epoch now (evaluate.train_seed): airtf's
                           compile, fit on arrays, metrics.Validation's one pass
  training alone           the same without any validation
  ... 128 steps/execution  the same with a whole epoch (117 steps) per call
  tf.data, airtf           from_tensor_slices + shuffle + batch 128 + prefetch
  ... without XLA          airtf's compile with jit_compile=False
  ... 1 step/execution     airtf's compile with steps_per_execution=1
  model step alone         airtf's compile on one cached batch repeated: no input cost
  input pipeline alone     iterating the tf.data pipeline, no model
  matmuls alone            the compute bound: only the model's matrix products (the
                           per-frame Dense layers, forward and both backward products)
                           on one batch, an epoch's steps in one XLA call

It prints seconds per epoch, the ratio to the baseline, the projected time
of a full training (attention.EPOCHS epochs) against the 2-minute budget,
airtf-eval's epoch against the previous one,
and the load average: other processes on the machine slow the wall clock
(and, less, the CPU seconds), so compare settings within one run, and read
the CPU seconds as the work an epoch takes.
"""

import argparse
import os
import resource
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402  (after the log level)
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from airtf.classify import attention, metrics  # noqa: E402
from keras import ops  # noqa: E402

OPENMIC_TRAIN_CLIPS = 14_915
OPENMIC_VALIDATION_CLIPS = 2_237  # 15 % of the training partition
FRAMES, FEATURES, CLASSES = 10, 128, 20
BUDGET_SECONDS = 2 * 60


def parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=OPENMIC_TRAIN_CLIPS, help="training clips (default %(default)s)")
    parser.add_argument("--validation-clips", type=int, default=OPENMIC_VALIDATION_CLIPS,
                        help="validation clips of the last setting (default %(default)s)")
    parser.add_argument("--epochs", type=int, default=5, help="rounds: timed epochs per setting (default %(default)s)")
    return parser.parse_args(argv)


def random_openmic(clips, seed):
    """Features in [0, 1] and packed targets: about 10 % of the labels annotated, as in OpenMIC."""
    rng = np.random.default_rng(seed)
    x = rng.random((clips, FRAMES, FEATURES), dtype=np.float32)
    y_mask = rng.random((clips, CLASSES)) < 0.1
    y_true = np.where(y_mask, rng.random((clips, CLASSES)), 0.5).astype(np.float32)
    return x, y_true, y_mask


def input_pipeline(x, y, seed=0):
    """The training input path: from_tensor_slices, shuffle, batch, prefetch."""
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=seed)
    return dataset.batch(attention.BATCH_SIZE).prefetch(tf.data.AUTOTUNE)


def clocks():
    """(wall seconds, CPU seconds of this process) now."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return time.perf_counter(), usage.ru_utime + usage.ru_stime


def since(start):
    """(wall, CPU) seconds since ``start``, a :func:`clocks` reading."""
    return tuple(now - then for now, then in zip(clocks(), start))


class EpochTimer(keras.callbacks.Callback):
    """Wall-clock and CPU seconds of the last epoch, validation and callbacks included."""

    def __init__(self):
        super().__init__()
        self.last = None
        self._start = None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = clocks()

    def on_epoch_end(self, epoch, logs=None):
        self.last = since(self._start)


class PreviousF1Macro(keras.metrics.Metric):
    """The masked F1-macro airtf-eval compiled in before: per-instrument counts accumulated in the graph."""

    def __init__(self, num_classes):
        super().__init__(name="f1_macro")
        self.counts = self.add_variable(shape=(4, num_classes), initializer="zeros", name="counts")

    def update_state(self, y_true, y_pred, sample_weight=None):
        labels, mask = attention.unpack_targets(ops.convert_to_tensor(y_true))
        actual, predicted = labels >= attention.THRESHOLD, ops.convert_to_tensor(y_pred) >= attention.THRESHOLD

        def count(condition):
            return ops.sum(ops.cast(condition & mask, self.dtype), axis=0)

        self.counts.assign_add(ops.stack([count(actual & predicted), count(~actual & predicted),
                                          count(actual & ~predicted), count(~actual & ~predicted)]))

    def result(self):
        true_positives, false_positives, false_negatives, true_negatives = ops.unstack(
            ops.convert_to_tensor(self.counts), 4)
        errors = false_positives + false_negatives
        f1 = (2 * true_positives / ops.maximum(2 * true_positives + errors, 1.0)
              + 2 * true_negatives / ops.maximum(2 * true_negatives + errors, 1.0)) / 2
        scored = (true_positives + false_negatives > 0) & (true_negatives + false_positives > 0)
        return ops.sum(ops.where(scored, f1, 0.0)) / ops.maximum(ops.sum(ops.cast(scored, self.dtype)), 1.0)

    def reset_state(self):
        self.counts.assign(ops.zeros(self.counts.shape, dtype=self.counts.dtype))


def fresh_model(compile_options=None, previous=False):
    """A seeded classifier compiled by airtf with ``compile_options``, or with Keras defaults when None.

    ``previous`` takes Keras's Dropout and adds the F1-macro metric airtf compiled in before.
    """
    keras.utils.set_random_seed(0)
    model = attention.AttentionClassifier(num_classes=CLASSES)
    if previous:
        model.dropouts = [keras.layers.Dropout(model.dropout, name=layer.name) for layer in model.dropouts]
    if compile_options is None:
        model.compile(optimizer=keras.optimizers.Adam(attention.LEARNING_RATE),
                      loss=attention.MaskedBinaryCrossentropy())
        return model
    attention.compile_classifier(model, **compile_options)
    if previous:
        model.compile(optimizer=model.optimizer, loss=model.loss, metrics=[PreviousF1Macro(CLASSES)],
                      steps_per_execution=model.steps_per_execution, jit_compile=model.jit_compile)
    return model


def training_epoch(model, data, **fit):
    """A function that trains ``model`` one epoch on ``data`` and returns its (wall, CPU) seconds.

    One untimed epoch (tracing, compiling) runs first.
    """
    timer = EpochTimer()
    fit = {"shuffle": False, "verbose": 0, **fit, "callbacks": [timer, *fit.get("callbacks", [])]}

    def epoch():
        model.fit(*data, epochs=1, **fit)
        return timer.last

    epoch()
    return epoch


def pipeline_epoch(dataset):
    """A function that iterates ``dataset`` once and returns its (wall, CPU) seconds."""

    def epoch():
        start = clocks()
        for _ in dataset:
            pass
        return since(start)

    epoch()
    return epoch


def matmul_epoch(steps):
    """A function timing only the matrix products of ``steps`` training steps, as one XLA call.

    Per step: the forward product of each per-frame Dense layer on one batch
    (128 clips x 10 frames) and, for the backward pass, the products giving
    the weight gradient and the input gradient (none for the first layer's
    input, the data). What the classifier computes beyond these (normalisation,
    dropout, attention, loss, Adam) is elementwise or a reduction.
    """
    rows = attention.BATCH_SIZE * FRAMES
    shapes = [(FEATURES, attention.UNITS)] * attention.LAYERS + [(attention.UNITS, CLASSES)] * 2
    weights = [tf.constant(np.random.default_rng(i).random(shape, dtype=np.float32) * 0.01)
               for i, shape in enumerate(shapes)]
    batch = tf.constant(np.random.default_rng(0).random((rows, FEATURES), dtype=np.float32))

    @tf.function(jit_compile=True)
    def run():
        def step(i, total, weights):
            h, updated = batch, []
            for layer, w in enumerate(weights):
                out = tf.matmul(h, w)
                grad_w = tf.matmul(h, out, transpose_a=True)  # dW = h^T dout, with out standing in for dout
                grad_h = tf.matmul(out, w, transpose_b=True) if layer else 0.0  # dh = dout W^T
                total += tf.reduce_sum(grad_h)
                updated.append(w - 1e-12 * grad_w)  # each step depends on the last: nothing is hoisted
                if layer < attention.LAYERS:
                    h = out  # the two heads (attention, classification) both read the last embedding
            return i + 1, total, updated

        return tf.while_loop(lambda i, *_: i < steps, step, (tf.constant(0), tf.constant(0.0), weights))[1]

    def epoch():
        start = clocks()
        run().numpy()
        return since(start)

    epoch()
    return epoch


def matmul_flops(clips):
    """Floating-point operations of the matrix products of an epoch (forward and backward, as timed above)."""
    frames = clips * FRAMES
    products = [(FEATURES, attention.UNITS, 2)] + [(attention.UNITS, attention.UNITS, 3)] * (attention.LAYERS - 1) \
        + [(attention.UNITS, CLASSES, 3)] * 2
    return sum(2 * frames * inputs * outputs * count for inputs, outputs, count in products)


def steps_of(args):
    """Training steps in an epoch."""
    return -(-args.clips // attention.BATCH_SIZE)


def settings(args):
    """Setting name -> a function timing one epoch of it, in the order of the module docstring."""
    x, y_true, y_mask = random_openmic(args.clips, seed=0)
    y = attention.pack_targets(y_true, y_mask)
    dataset = input_pipeline(x, y)
    steps = steps_of(args)
    one_batch = dataset.take(1).cache().repeat()
    valid_x, valid_true, valid_mask = random_openmic(args.validation_clips, seed=1)
    valid = (valid_x, attention.pack_targets(valid_true, valid_mask))
    names = [f"class_{i}" for i in range(CLASSES)]
    arrays = {"batch_size": attention.BATCH_SIZE, "shuffle": True}
    airtf_defaults = {}
    return {
        "numpy, Keras defaults": training_epoch(fresh_model(), (x, y), **arrays),
        "airtf-eval, before": training_epoch(fresh_model(airtf_defaults, previous=True), (x, y), **arrays,
                                             validation_data=valid, callbacks=[metrics.Validation(valid, names)]),
        "airtf-eval": training_epoch(fresh_model(airtf_defaults), (x, y), **arrays,
                                     callbacks=[metrics.Validation(valid, names)]),
        "training alone": training_epoch(fresh_model(airtf_defaults), (x, y), **arrays),
        "... 128 steps/execution": training_epoch(fresh_model({"steps_per_execution": 128}), (x, y), **arrays),
        "tf.data, airtf": training_epoch(fresh_model(airtf_defaults), (dataset,)),
        "... without XLA": training_epoch(fresh_model({"jit_compile": False}), (dataset,)),
        "... 1 step/execution": training_epoch(fresh_model({"steps_per_execution": 1}), (dataset,)),
        "model step alone": training_epoch(fresh_model(airtf_defaults), (one_batch,), steps_per_epoch=steps),
        "input pipeline alone": pipeline_epoch(dataset),
        "matmuls alone": matmul_epoch(steps),
    }


def measure(args):
    """(wall, CPU) seconds per epoch of each setting: the fastest of ``args.epochs`` rounds.

    Each round times one epoch of every setting in turn, so that load from
    other processes falls on all settings alike; the fastest epoch is the
    least disturbed.
    """
    epochs = settings(args)
    durations = {name: [] for name in epochs}
    for _ in range(args.epochs):
        for name, epoch in epochs.items():
            durations[name].append(epoch())
    return {name: min(values) for name, values in durations.items()}


def report(results, args, load):
    """The results as a table and a verdict."""
    baseline = results["numpy, Keras defaults"][0]
    lines = [f"{args.clips} clips x {FRAMES} x {FEATURES}, batch {attention.BATCH_SIZE}, {os.cpu_count()} CPUs, "
             f"TensorFlow {tf.__version__}, Keras {keras.__version__}; fastest of {args.epochs} rounds; "
             f"load average {load[0]:.1f} before, {load[1]:.1f} after",
             f"{'setting':<25}{'wall s/epoch':>13}{'vs numpy':>10}{'CPU s/epoch':>13}"
             f"{f'{attention.EPOCHS} epochs':>12}"]
    for name, (wall, cpu) in results.items():
        lines.append(f"{name:<25}{wall:>13.3f}{wall / baseline:>9.2f}x{cpu:>13.3f}"
                     f"{attention.EPOCHS * wall / 60:>8.1f} min")
    chosen, before = results["airtf-eval"][0], results["airtf-eval, before"][0]
    verdict = "within" if attention.EPOCHS * chosen <= BUDGET_SECONDS else "OVER"
    lines.append(f"airtf-eval's epoch: {chosen:.3f} s against {before:.3f} s before, {before / chosen:.2f}x; "
                 f"{attention.EPOCHS} epochs {attention.EPOCHS * chosen / 60:.1f} min, "
                 f"{verdict} the {BUDGET_SECONDS // 60}-minute budget")
    bound = results["matmuls alone"][0]
    lines.append(f"compute bound: the matrix products ({matmul_flops(steps_of(args) * attention.BATCH_SIZE) / 1e9:.1f} "
                 f"GFLOP an epoch) alone take {bound:.3f} s, {bound / chosen:.0%} of an airtf-eval epoch; "
                 f"{attention.EPOCHS} epochs of them {attention.EPOCHS * bound / 60:.1f} min")
    lines.append(f"input pipeline alone: {results['input pipeline alone'][0] / chosen:.0%} of an airtf-eval epoch; "
                 f"airtf-eval epoch / model step alone = {chosen / results['model step alone'][0]:.2f}")
    return "\n".join(lines)


def main(argv=None):
    args = parse(argv)
    load_before = os.getloadavg()[0]
    results = measure(args)
    print(report(results, args, (load_before, os.getloadavg()[0])))


if __name__ == "__main__":
    main()
