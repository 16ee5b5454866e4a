"""What the input costs on folders of CelebA-sized JPEGs: memory, start-up and images per second.

    python benchmarks/input_pipeline.py                        # 1k, 10k and 50k images
    python benchmarks/input_pipeline.py --sizes 1000,2000 --train-steps 10

For each folder size it writes that many synthetic 218x178 JPEGs (smooth
colour fields with grain, about CelebA's file size), then runs each stage in a
process of its own, so that its peak memory (ru_maxrss) is its own:

- ``cache build``: the one-time decode, center-crop and resize into the uint8
  cache (``dcgan_keras.data.folder_cache``), from a cold cache;
- ``stream``: ``open_images`` on the warm cache, then one epoch of
  ``make_dataset`` batches of 128 through the stream ``fit()`` gets on this
  backend (``tf.data`` on TensorFlow): time to the first batch, images/s;
- ``train``: ``DCGAN.fit`` on that stream at 64x64x3 (``--width``, 8 by default):
  images/s after the first steps, and the whole process's peak memory;
- ``in memory``: ``load_images``, the whole folder as one float32 array, the
  way every folder was loaded before the cache (up to 10k images).

Then it extrapolates to CelebA (202,599) and LSUN bedrooms (3,033,042).
"""

import argparse
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

CELEBA, LSUN_BEDROOMS = 202_599, 3_033_042
IMAGE_SHAPE = (64, 64, 3)


def write_folder(folder, count, seed=0):
    """``count`` 218x178 JPEGs: a random 6x7 colour field upsampled, plus grain (compresses like a photo)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for index in range(count):
        field = Image.fromarray(rng.integers(0, 256, (7, 6, 3), dtype=np.uint8)).resize(
            (178, 218), Image.Resampling.BICUBIC)
        pixels = np.clip(np.asarray(field, dtype=np.int16) + rng.integers(-8, 9, (218, 178, 1)), 0, 255)
        Image.fromarray(pixels.astype(np.uint8)).save(folder / f"{index:06d}.jpg", quality=90)


def peak_mb():
    """This process's peak resident memory: VmHWM (ru_maxrss would include the parent's, kept across exec)."""
    return int(re.search(r"VmHWM:\s+(\d+)", pathlib.Path("/proc/self/status").read_text()).group(1)) / 1024


def stage(name, folder, batch_size, train_steps, width):
    """One stage in this process; returns its measurements."""
    import dcgan_keras
    from dcgan_keras import data

    size, _, channels = IMAGE_SHAPE
    started = time.perf_counter()
    if name == "cache build":
        cache = data.folder_cache(folder, size, channels, verbose=False)
        seconds = time.perf_counter() - started
        return {"seconds": seconds, "images_per_s": len(cache) / seconds, "disk_mb": cache.path.stat().st_size / 2**20}
    if name == "in memory":
        images = data.load_images(image_dir=folder, image_size=size, channels=channels)
        return {"seconds": time.perf_counter() - started, "array_mb": images.nbytes / 2**20}
    stream = data.make_dataset(data.open_images(image_dir=folder, image_size=size, channels=channels), batch_size)
    if name == "stream":
        batches = iter(_as_fed_to_fit(stream))
        next(batches)
        first = time.perf_counter() - started
        steps = stream.steps_per_epoch - 1
        for _ in range(steps):
            next(batches)
        seconds = time.perf_counter() - started - first
        return {"first_batch_s": first, "images_per_s": steps * batch_size / seconds}
    gan = dcgan_keras.DCGAN.from_shape(IMAGE_SHAPE, width=width)
    gan.compile()
    gan.fit(stream, epochs=1, steps_per_epoch=3, verbose=0)  # compile and warm up
    first = time.perf_counter() - started
    timed = time.perf_counter()
    gan.fit(stream.starting_at(3), epochs=1, steps_per_epoch=train_steps, verbose=0)
    return {"first_step_s": first, "images_per_s": train_steps * batch_size / (time.perf_counter() - timed)}


def _as_fed_to_fit(stream):
    import keras

    if keras.backend.backend() == "tensorflow":
        return stream.as_tf_dataset().as_numpy_iterator()
    return (stream[step] for step in range(10**12))


def run_stage(name, folder, count, args, cache):
    command = [sys.executable, __file__, "--stage", name, "--folder", str(folder), "--batch", str(args.batch),
               "--train-steps", str(args.train_steps), "--width", str(args.width)]
    env = {**os.environ, "DCGAN_KERAS_CACHE": str(cache), "PYTHONPATH": str(pathlib.Path(__file__).parents[1])}
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode:
        return {"stage": name, "images": count, "error": result.stderr.strip().splitlines()[-1]}
    return {"stage": name, "images": count, **json.loads(result.stdout.strip().splitlines()[-1])}


def extrapolate(rows):
    """CelebA and LSUN from the largest folder measured: build rate, cache size, memory."""
    largest = max(row["images"] for row in rows)
    build = next(row for row in rows if row["stage"] == "cache build" and row["images"] == largest)
    train = next(row for row in rows if row["stage"] == "train" and row["images"] == largest)
    memory = [row for row in rows if row["stage"] == "in memory" and "peak_mb" in row]
    per_image_kb = None
    if len(memory) >= 2:  # the slope of peak memory in the number of images
        low, high = min(memory, key=lambda r: r["images"]), max(memory, key=lambda r: r["images"])
        per_image_kb = (high["peak_mb"] - low["peak_mb"]) * 1024 / (high["images"] - low["images"])
    lines = ["", f"Extrapolated from {largest:,} images (cache build {build['images_per_s']:.0f} img/s, "
             f"training peak {train['peak_mb']:.0f} MB):",
             "| dataset | images | cache on disk | one-time cache build | training peak memory, streamed "
             "| in memory, as before |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, count in (("CelebA", CELEBA), ("LSUN bedrooms", LSUN_BEDROOMS)):
        in_memory = "-" if per_image_kb is None else f"{count * per_image_kb / 2**20:.0f} GB"
        lines.append(f"| {name} | {count:,} | {count * np.prod(IMAGE_SHAPE) / 2**30:.1f} GB | "
                     f"{count / build['images_per_s'] / 60:.0f} min | about {train['peak_mb'] / 1024:.1f} GB (flat) | "
                     f"{in_memory} |")
    if per_image_kb is not None:
        lines.append(f"In memory cost {per_image_kb:.0f} KB of peak memory per image (float32 alone is "
                     f"{np.prod(IMAGE_SHAPE) * 4 / 1024:.0f} KB).")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--in-memory-up-to", type=int, default=10000)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--train-steps", type=int, default=20)
    parser.add_argument("--width", type=int, default=8, help="the DCGAN's width in the train stage (the paper's: 128)")
    parser.add_argument("--stage")
    parser.add_argument("--folder")
    args = parser.parse_args()
    if args.stage:  # a child: one stage, one JSON line
        result = stage(args.stage, pathlib.Path(args.folder), args.batch, args.train_steps, args.width)
        print(json.dumps({**result, "peak_mb": peak_mb()}))
        return
    import keras

    from dcgan_keras import devices

    print(f"Keras {keras.__version__} on {keras.backend.backend()}, {devices.device_name()}, {os.cpu_count()} cores")
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for count in map(int, args.sizes.split(",")):
            folder, cache = pathlib.Path(scratch) / f"jpegs{count}", pathlib.Path(scratch) / f"cache{count}"
            started = time.perf_counter()
            write_folder(folder, count, seed=count)
            megabytes = sum(path.stat().st_size for path in folder.iterdir()) / 2**20
            print(f"{count:,} JPEGs written in {time.perf_counter() - started:.0f} s ({megabytes:.0f} MB)", flush=True)
            stages = ["cache build", "stream", "train"] + (["in memory"] if count <= args.in_memory_up_to else [])
            for name in stages:
                rows.append(run_stage(name, folder, count, args, cache))
                print(json.dumps(rows[-1]), flush=True)
            subprocess.run(["rm", "-rf", str(folder), str(cache)], check=True)
    print("\n| images | stage | seconds | images/s | first batch or step (s) | peak memory (MB) |")
    print("| ---: | --- | ---: | ---: | ---: | ---: |")
    for row in rows:
        cells = [row.get("seconds"), row.get("images_per_s"), row.get("first_batch_s", row.get("first_step_s")),
                 row.get("peak_mb")]
        text = [f"{value:,.1f}" if isinstance(value, float) else "-" for value in cells]
        print(f"| {row['images']:,} | {row['stage']} | " + " | ".join(text)
              + (f" {row['error']}" if "error" in row else "") + " |")
    print("\n".join(extrapolate([row for row in rows if "error" not in row])))
    print("\nNot measured on a GPU: this run had none. With one, the question is whether the cache's stream "
          "keeps up with the paper layout's training rate there (about 26k img/s at batch 512 on an H200).")


if __name__ == "__main__":
    main()
