"""The trained generators that ship with the package, by name, each with a card that says how it was made.

>>> import dcgan_keras
>>> for name, card in dcgan_keras.pretrained().items():   # no name: {name: card}
...     print(name, card["description"])
>>> generator = dcgan_keras.pretrained("mnist")            # a name: the Keras model, z (100 numbers) -> images
>>> dcgan_keras.sample(generator, 16, seed=0).shape
(16, 28, 28, 1)

Each one is ``dcgan_keras/pretrained/NAME.keras`` with its card ``NAME.json``: the data, the
command that trained it, the epochs, the machine, the precision, and its scores with the
evaluator that gave them. The folder is package data, so ``pip install`` brings it.
``sample --pretrained NAME`` and ``evaluate --pretrained NAME`` read the same files.
"""

import argparse
import json
import pathlib

from dcgan_keras.errors import UsageError
from dcgan_keras.saved_generator import load_generator

FOLDER = pathlib.Path(__file__).resolve().parent / "pretrained"


class UnknownName(UsageError, argparse.ArgumentTypeError):
    """A name with no shipped generator. An ``ArgumentTypeError`` too, because ``path`` is the type of the
    ``--pretrained`` option: argparse then prints this message, which names the choices, not 'invalid value'."""


def names():
    """The names of the shipped generators: every card with its model beside it."""
    return sorted(card.stem for card in FOLDER.glob("*.json") if card.with_suffix(".keras").is_file())


def path(name):
    """The file of the shipped generator ``name``, or a one-line ``UsageError`` that names the choices.

    The messages end without a full stop: argparse's error line adds its own text after them."""
    choices = names()
    if not choices:
        raise UnknownName(f"No pretrained generators in {FOLDER}: this installation lacks the package's data files; "
                          "reinstall dcgan_keras")
    if name not in choices:
        raise UnknownName(f"No pretrained generator {name!r}; choose one of {', '.join(choices)}")
    return FOLDER / f"{name}.keras"


def pretrained(name=None):
    """The shipped generator ``name``, loaded and checked; with no name, every card as ``{name: card}``."""
    if name is None:
        return {known: json.loads((FOLDER / f"{known}.json").read_text()) for known in names()}
    return load_generator(path(name), option="--pretrained")
