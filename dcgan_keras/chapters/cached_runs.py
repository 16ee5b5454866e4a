"""Trained DCGANs cached on disk, so a notebook or an experiment trains each run once.

A run is named by the caller and keyed by its number of steps, batch size
and seed; notebooks 01 and 05 and ``python -m dcgan_keras.chapters.experiments``
share the cache. It lives in ``runs/`` under the package's cache folder
(``~/.cache/dcgan_keras``, or ``$DCGAN_KERAS_CACHE``); delete it to retrain everything.
"""

import json

import keras

from dcgan_keras.data import make_dataset
from dcgan_keras.files import CACHE_DIR, replace_atomically, write_text_atomically

CACHE = CACHE_DIR / "runs"


def run_folder(name, steps, batch_size=64, seed=0):
    """Where ``cached_fit`` keeps a run."""
    return CACHE / f"{name}-{steps}steps-b{batch_size}-s{seed}"


def cached_fit(name, build_gan, images, steps, batch_size=64, seed=0):
    """Train ``build_gan()`` for ``steps`` updates once; later calls load the result.

    Returns the trained DCGAN and its per-epoch history dict. Both files are
    written atomically, the model first, so a killed run leaves no half-made
    entry: it is trained again next time.
    """
    folder = run_folder(name, steps, batch_size, seed)
    model_path, history_path = folder / "dcgan.keras", folder / "history.json"
    if model_path.exists() and history_path.exists():
        return keras.models.load_model(model_path), json.loads(history_path.read_text())
    keras.utils.set_random_seed(seed)
    gan = build_gan()
    dataset = make_dataset(images, batch_size, seed=seed).repeat()
    history = gan.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0).history
    folder.mkdir(parents=True, exist_ok=True)
    replace_atomically(gan.save, model_path)
    write_text_atomically(json.dumps({key: [float(v) for v in values] for key, values in history.items()}), history_path)
    return gan, history
