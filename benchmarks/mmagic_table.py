"""Our DCGAN beside MMagic's published MNIST-64 table: SWD and MS-SSIM, scored MMagic's way.

    python benchmarks/mmagic_table.py --runs runs/mmagic                    # the full table: a GPU's work
    python benchmarks/mmagic_table.py --runs runs/mmagic --width 16 --iterations 1500   # reduced, for a CPU

MMagic's config `configs/dcgan/dcgan_Glr4e-4_Dlr1e-4_1xb128-5kiters_mnist-64x64.py` trains the
paper's 64x64 DCGAN (1,024 channels at 4x4, kernel 4: our width 128, kernel_size 4) on MNIST resized
to 64x64, batch 128, for 5,000 iterations, with Adam(beta_1=0.5): G at 4e-4 and D at 1e-4. It
publishes SWD x 10^3 per scale (64, 32, 16) and their average, and the MS-SSIM of sample pairs.

Two recipes train here on the same data and seed: MMagic's learning rates, and the paper's (2e-4
for both players). Each run is a `fit_resumably` folder under ``--runs``, so a killed run resumes
exactly. Both are scored by `dcgan_keras.evaluate.reference_scores` against the embedded MNIST at
64x64: SWD on 5,000 samples against 5,000 real digits (the other 5,000 against the same ones give the
floor a perfect generator reaches), MS-SSIM over the samples' pairs.
The scores go to ``--runs``/scores.json (atomically, as each run ends) and print as a table beside
MMagic's numbers. Protocol differences are printed under the table.
"""

import argparse
import json
import pathlib

from dcgan_keras.console import import_tensorflow_quietly

MMAGIC = {"swd": {64: 21.16, 32: 4.4, 16: 8.41}, "swd_avg": 11.32, "ms_ssim": 0.1395}
RECIPES = {"MMagic": (4e-4, 1e-4), "paper": (2e-4, 2e-4)}  # (G's learning rate, D's)
BATCH = 128


def train(recipe, width, iterations, seed, runs):
    """The trained DCGAN of one recipe (resumed from, or finished in, its folder) and the steps it trained."""
    import keras

    from dcgan_keras import DCGAN, make_dataset, open_images
    from dcgan_keras.resume import fit_resumably

    images = open_images("mnist-embedded", 64, 1)
    batches = make_dataset(images, BATCH, seed=seed)
    epochs = max(1, round(iterations / batches.steps_per_epoch))
    keras.utils.set_random_seed(seed)
    gan = DCGAN.from_shape((64, 64, 1), width=width, kernel_size=4, seed=seed)
    g_rate, d_rate = RECIPES[recipe]
    gan.compile(d_optimizer=keras.optimizers.Adam(d_rate, beta_1=0.5, beta_2=0.999),
                g_optimizer=keras.optimizers.Adam(g_rate, beta_1=0.5, beta_2=0.999))
    folder = runs / f"{recipe}-w{width}-{iterations}it-s{seed}"
    fit_resumably(gan, batches, epochs, folder, verbose=0)
    return gan, epochs * batches.steps_per_epoch


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=pathlib.Path, default=pathlib.Path("runs/mmagic"))
    parser.add_argument("--width", type=int, default=128, help="128: MMagic's (and the paper's) network")
    parser.add_argument("--iterations", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-images", type=int, default=5000, help="samples scored against as many real "
                        "digits; at 5,000 the other 5,000 give the real floor (the embedded MNIST holds 10,000)")
    args = parser.parse_args(argv)
    import_tensorflow_quietly()  # before Keras: the table is not buried under TensorFlow's start-up lines

    from dcgan_keras.evaluate import reference_scores
    from dcgan_keras.files import write_text_atomically

    args.runs.mkdir(parents=True, exist_ok=True)
    path = args.runs / "scores.json"
    stored = json.loads(path.read_text()) if path.exists() else {}
    for recipe in RECIPES:
        key = f"{recipe}-w{args.width}-{args.iterations}it-s{args.seed}-n{args.num_images}"
        if key not in stored:
            gan, steps = train(recipe, args.width, args.iterations, args.seed, args.runs)
            report = reference_scores(gan.generator, "mnist-embedded", args.num_images, seed=args.seed)
            stored[key] = {"steps": steps, **report}
            write_text_atomically(json.dumps(stored, indent=1), path)
    stored = json.loads(path.read_text())  # JSON's keys are text: the per-scale SWDs are keyed "64", "32", "16"

    print("| model | G, D learning rates | steps x batch | SWD x1e3: 64 / 32 / 16 | SWD avg | MS-SSIM |")
    print("| --- | --- | --- | --- | --- | --- |")
    published = " / ".join(f"{MMAGIC['swd'][size]:.2f}" for size in (64, 32, 16))
    print(f"| MMagic's published DCGAN (width 128) | 4e-4, 1e-4 | 5,000 x {BATCH} | {published} | "
          f"{MMAGIC['swd_avg']:.2f} | {MMAGIC['ms_ssim']:.4f} |")
    report = None
    for recipe, (g_rate, d_rate) in RECIPES.items():
        report = stored[f"{recipe}-w{args.width}-{args.iterations}it-s{args.seed}-n{args.num_images}"]
        swd = " / ".join(f"{report['swd'][str(size)]:.2f}" for size in (64, 32, 16))
        print(f"| dcgan_keras, {recipe} recipe (width {args.width}) | {g_rate:g}, {d_rate:g} | "
              f"{report['steps']:,} x {BATCH} | {swd} | {report['swd_avg']:.2f} | {report['ms_ssim']:.4f} |")
    floor = " / ".join(f"{report['real_swd'][str(size)]:.2f}" for size in (64, 32, 16)) if "real_swd" in report \
        else "n/a"
    print(f"| real digits (10k test split; SWD: two halves) | | | {floor} | "
          f"{report.get('real_swd_avg', float('nan')):.2f} | {report['reference_ms_ssim']:.4f} |")
    print(f"\nProtocol differences: our MNIST is the 10,000-image test split, MMagic's the 60,000-image training "
          f"split; both resize 28x28 to 64x64 (ours with Pillow's Lanczos, MMagic's bilinear); SWD here on "
          f"{report['num_images']:,} samples against as many real digits (MMagic's table: 16,384); one seed.")


if __name__ == "__main__":
    main()
