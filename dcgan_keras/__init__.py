"""dcgan_keras: DCGAN (Radford, Metz & Chintala, 2015) in Keras 3, as a library and a tutorial.

>>> import dcgan_keras
>>> generator = dcgan_keras.build_generator()                  # the paper's 64x64x3 generator
>>> gan = dcgan_keras.DCGAN.from_shape((28, 28, 1))             # an MNIST-sized pair
>>> gan.compile()
>>> gan.fit(dcgan_keras.make_dataset(dcgan_keras.load_images(), 64), epochs=18)
>>> images = dcgan_keras.sample(gan.generator, 64, seed=0)     # in [-1, 1]
>>> shipped = dcgan_keras.pretrained("mnist")                   # a trained generator; pretrained(): their cards

``__all__`` is what a script needs: the models, the GAN and its losses, the
data, sampling, evaluation, the training callbacks, exact resume and the
trained generators that ship with the package. Each
name is imported from its module on first use, so ``import dcgan_keras``
loads no backend and no plotting library. The first name used also registers
the package's Keras classes: a saved ``dcgan.keras`` loads with
``keras.models.load_model`` once any ``dcgan_keras.NAME`` has been used (the
saved generators hold only stock Keras layers and load anywhere). Specialist tools stay one module
away: ``dcgan_keras.metrics`` (FID, KID), ``dcgan_keras.layers`` (the faster
exact layers), ``dcgan_keras.compute`` (backend-neutral prediction),
``dcgan_keras.distribute``, ``dcgan_keras.plotting``. The notebooks' own
helpers live in ``dcgan_keras.chapters``, which the library never imports.
"""

import importlib

__version__ = "0.1.0"

# Public name -> the module that defines it.
_MODULES = {
    "build_generator": "models", "build_discriminator": "models",
    "DCGAN": "gan", "discriminator_loss": "gan", "generator_loss": "gan", "paper_optimizer": "gan",
    "load_images": "data", "open_images": "data", "make_dataset": "data",
    "latent_noise": "sampling", "sample": "sampling", "interpolate": "sampling",
    "MnistEvaluator": "evaluate", "EmojiEvaluator": "evaluate", "InceptionEvaluator": "evaluate",
    "SampleGrid": "callbacks", "HistoryCSV": "callbacks", "QualityCheckpoint": "callbacks",
    "TensorBoardLogger": "callbacks",
    "fit_resumably": "resume", "UsageError": "errors", "save_grid": "plotting",
    "pretrained": "pretrained_generators",
}
__all__ = list(_MODULES)


# The modules that register the package's Keras classes (DCGAN, the faster exact layers, LearnedGrid):
# loaded with the first public name, so that a saved dcgan.keras then loads with keras.models.load_model.
_REGISTERING = ("gan", "layers")


def __getattr__(name):
    # PEP 562: the first `dcgan_keras.NAME` imports NAME's module, then the name is cached here.
    if name not in _MODULES:
        raise AttributeError(f"module 'dcgan_keras' has no attribute {name!r}")
    for module in (*_REGISTERING, _MODULES[name]):
        importlib.import_module(f"dcgan_keras.{module}")
    value = getattr(importlib.import_module(f"dcgan_keras.{_MODULES[name]}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted({*globals(), *__all__})
