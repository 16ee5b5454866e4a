"""Trained DCGANs cached on disk, so a notebook or an experiment trains each run once.

A run is named by the caller and keyed by its number of steps, batch size,
seed and Keras backend (one seed draws different initial weights on each
backend, so a JAX notebook never reads a TensorFlow run as its own); notebooks 01 and 05 and
``python -m dcgan_keras.chapters.experiments``
share the cache. It lives in ``runs/`` under the package's cache folder
(``~/.cache/dcgan_keras``, or ``$DCGAN_KERAS_CACHE``); delete it to retrain everything.
Its folder carries ``TRAINING_VERSION``, so runs made by older training code are
never read back as if they were current.
"""

import json

import keras

from dcgan_keras.console import NOISE
from dcgan_keras.data import make_dataset
from dcgan_keras.files import CACHE_DIR, replace_atomically, write_text_atomically

# Bump when a change alters what a run trains to (version 2: batches that depend on the step alone).
TRAINING_VERSION = 2
CACHE = CACHE_DIR / f"runs-v{TRAINING_VERSION}"
# Grappler's remapper pass sometimes cannot fuse a BiasAdd with a LeakyReLU gradient and reports it
# at error level, then runs the graph unfused with the same results: in a notebook's output it is noise.
TRAINING_NOISE = NOISE + ("remapper failed",)


def run_folder(name, steps, batch_size=64, seed=0):
    """Where ``cached_fit`` keeps a run trained under the current Keras backend."""
    return CACHE / f"{name}-{steps}steps-b{batch_size}-s{seed}-{keras.backend.backend()}"


def cached_fit(name, build_gan, images, steps, batch_size=64, seed=0, chunk=None, callbacks=()):
    """Train ``build_gan()`` for ``steps`` updates once; later calls load the result.

    ``chunk`` steps make one Keras epoch (default: all of them), so the
    history has one entry, and ``callbacks`` run, per chunk; the data order
    does not depend on it. Returns the trained DCGAN and its history dict. Both files are
    written atomically, the model first, so a killed run leaves no half-made
    entry: it is trained again next time.
    """
    folder = run_folder(name, steps, batch_size, seed)
    model_path, history_path = folder / "dcgan.keras", folder / "history.json"
    if model_path.exists() and history_path.exists():
        return keras.models.load_model(model_path), json.loads(history_path.read_text())
    chunk = chunk or steps
    if steps % chunk:
        raise ValueError(f"steps ({steps}) must be a multiple of chunk ({chunk}).")
    keras.utils.set_random_seed(seed)
    gan = build_gan()
    dataset = make_dataset(images, batch_size, seed=seed)
    history = gan.fit(dataset, epochs=steps // chunk, steps_per_epoch=chunk, verbose=0,
                      callbacks=list(callbacks)).history
    folder.mkdir(parents=True, exist_ok=True)
    replace_atomically(gan.save, model_path)
    write_text_atomically(json.dumps({key: [float(v) for v in values] for key, values in history.items()}),
                          history_path)
    return gan, history
