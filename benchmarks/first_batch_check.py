"""What fit()'s first-batch checks cost, against the training they guard.

    python benchmarks/first_batch_check.py [--steps 200] [--repeats 5]

fit() reads one batch before training and checks its shape and pixel range,
once per call, outside the compiled step (which the checks leave as it was).
This times that check on each kind of input and one fit() of ``--steps``
steps on the same input, and prints the check as a share of the fit.
"""

import argparse
import time

import numpy as np

import dcgan_keras
from dcgan_keras.data import load_images, make_dataset


def inputs(images, batch_size):
    """The kinds of input fit() checks, each made anew for every use (a one-pass generator is spent)."""
    kinds = {"numpy": lambda: images, "PyDataset": lambda: make_dataset(images, batch_size, seed=0)}
    try:
        import tensorflow as tf

        kinds["tf.data"] = lambda: (tf.data.Dataset.from_tensor_slices(images)
                                    .shuffle(len(images), seed=0).batch(batch_size, drop_remainder=True).repeat())
    except ImportError:
        pass
    return kinds


def check_seconds(gan, data):
    """One ``DCGAN.check_data``, the checks fit() runs before training (a numpy array is checked whole)."""
    started = time.perf_counter()
    gan.check_data(data)
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    images = load_images()[:6400]
    gan = dcgan_keras.DCGAN.from_shape((28, 28, 1), width=32, seed=0)
    gan.compile()
    gan.fit(images[:1280], batch_size=64, epochs=1, verbose=0)  # tracing and compiling, not counted
    print(f"MNIST 28x28x1, width 32, batch 64, {args.steps} steps per fit; medians of {args.repeats}")
    print("| input | check per fit() | fit() | check / fit |")
    print("| --- | ---: | ---: | ---: |")
    for name, make in inputs(images, 64).items():
        checks = [check_seconds(gan, make()) for _ in range(args.repeats)]
        fits = []
        for _ in range(args.repeats):
            data, started = make(), time.perf_counter()
            if isinstance(data, np.ndarray):
                gan.fit(data[:64 * args.steps], batch_size=64, epochs=1, verbose=0)
            else:
                gan.fit(data, epochs=1, steps_per_epoch=args.steps, verbose=0)
            fits.append(time.perf_counter() - started)
        check, fit = float(np.median(checks)), float(np.median(fits))
        print(f"| {name} | {check * 1000:.1f} ms | {fit:.2f} s | {check / fit:.2%} |")


if __name__ == "__main__":
    main()
