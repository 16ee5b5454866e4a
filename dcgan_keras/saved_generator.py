"""Reading a saved generator back, checked: a wrong or damaged file is one line that says what it is.

``evaluate`` and ``sample`` read ``--generator`` through ``load_generator``; a
script can too, to get the same messages.
"""

import zipfile

import keras

from dcgan_keras.errors import UsageError
from dcgan_keras.gan import DCGAN


def load_generator(path, option="--generator"):
    """The generator saved at ``path``, or a ``UsageError`` that says what the file is instead."""
    if not path.exists():
        raise UsageError(f"No generator at {path}. Train one first (python -m dcgan_keras train) "
                         f"or pass {option} PATH.")
    if path.is_dir():
        raise UsageError(f"{option} {path} is a folder; pass the generator.keras file in it.")
    if not zipfile.is_zipfile(path):
        raise UsageError(f"{option} {path} is not a Keras model archive (a .keras file is a zip file; this one "
                         f"is not). Pass a generator saved by train, such as runs/dcgan/generator.keras.")
    try:  # every file in it read and checksummed: Keras would read damaged weights without a word
        with zipfile.ZipFile(path) as archive:
            member = archive.testzip()
        damaged = member and f"{member} in it fails its checksum"
    except Exception as error:  # zipfile raises several types for damaged headers
        damaged = f"{type(error).__name__}: {str(error)[:80]}"
    if damaged:
        raise UsageError(f"{option} {path} is damaged (cut short or overwritten: {damaged}). Pass an intact "
                         "copy, or train it again.")
    try:
        model = keras.models.load_model(path)
    except Exception as error:  # Keras raises many types for a damaged or foreign archive
        raise UsageError(f"{option} {path} could not be loaded as a Keras model "
                         f"({type(error).__name__}: {str(error).splitlines()[0][:160]}).") from None
    if isinstance(model, DCGAN):
        raise UsageError(f"{option} {path} is a full DCGAN (both networks); pass its generator, "
                         f"{path.parent / 'generator.keras'}, which train writes beside it.")
    ins, outs = model.inputs[0].shape, model.outputs[0].shape
    if len(ins) != 2 or len(outs) != 4:
        raise UsageError(f"{option} {path} is a model from {tuple(ins[1:])} to {tuple(outs[1:])} (a discriminator "
                         f"or a classifier?); expected a generator, from a latent vector z to images.")
    return model
