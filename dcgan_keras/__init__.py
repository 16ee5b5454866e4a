"""dcgan_keras: DCGAN (Radford, Metz & Chintala, 2015) in Keras 3, as a library and a tutorial.

>>> import dcgan_keras
>>> generator = dcgan_keras.build_generator()          # the paper's 64x64x3 generator
>>> gan = dcgan_keras.DCGAN.from_shape((28, 28, 1))     # MNIST-sized pair

``__all__`` below is the supported surface: the models, the GAN and its
losses, the data pipeline, the callbacks, exact resume, the evaluators and metrics, the
figures, distribution and the backend-neutral helpers. The notebooks' own
helpers live in ``dcgan_keras.chapters``, which this package never imports.
"""

from dcgan_keras.console import import_tensorflow_quietly

# Only when TensorFlow is Keras' backend: its C++ start-up lines (oneDNN
# notices, a failed cuInit on a machine without a GPU) are dropped while it
# loads; any other line it prints is replayed.
import_tensorflow_quietly()

# ruff: noqa: E402  (TensorFlow must be imported quietly before Keras)
from dcgan_keras.callbacks import HistoryCSV, QualityCheckpoint, SampleGrid
from dcgan_keras.compute import gradients, predict, weight_gradients
from dcgan_keras.data import (
    DatasetUnavailableError,
    TrainingBatches,
    load_embedded_emoji,
    load_embedded_mnist,
    load_images,
    make_dataset,
    open_images,
    to_uint8,
    to_unit_range,
)
from dcgan_keras.distribute import data_parallel, process_slice
from dcgan_keras.errors import UsageError
from dcgan_keras.image_cache import ImageCache
from dcgan_keras.evaluate import EmojiEvaluator, InceptionEvaluator, MnistEvaluator
from dcgan_keras.formulation import as_paper_layers
from dcgan_keras.gan import (
    DCGAN,
    discriminator_loss,
    generate_images,
    generator_loss,
    interpolate,
    latent_noise,
    paper_optimizer,
)
from dcgan_keras.layers import SpaceToDepthConv2D, SubPixelConv2DTranspose
from dcgan_keras.metrics import class_coverage, fid, kid
from dcgan_keras.models import (
    build_discriminator,
    build_generator,
    build_one_step_generator,
    multiply_adds,
    valid_image_sizes,
)
from dcgan_keras.plotting import (
    image_grid,
    plot_history,
    save_gif,
    save_grid,
    show_images,
)
from dcgan_keras.resume import TrainingDiverged, fit_resumably

__version__ = "0.1.0"

__all__ = [
    # models (models.py, layers.py, formulation.py)
    "build_generator", "build_discriminator", "build_one_step_generator", "valid_image_sizes", "multiply_adds",
    "SubPixelConv2DTranspose", "SpaceToDepthConv2D", "as_paper_layers",
    # the GAN (gan.py)
    "DCGAN", "discriminator_loss", "generator_loss", "paper_optimizer", "latent_noise", "interpolate",
    "generate_images",
    # data (data.py)
    "load_images", "open_images", "ImageCache", "load_embedded_mnist", "load_embedded_emoji", "make_dataset", "TrainingBatches", "to_unit_range",
    "to_uint8", "DatasetUnavailableError",
    # training callbacks (callbacks.py), exact resume (resume.py), more than one device (distribute.py)
    "SampleGrid", "HistoryCSV", "QualityCheckpoint", "fit_resumably", "TrainingDiverged", "data_parallel",
    "process_slice",
    # sample quality (evaluate.py, metrics.py)
    "MnistEvaluator", "EmojiEvaluator", "InceptionEvaluator", "fid", "kid", "class_coverage",
    # figures (plotting.py)
    "image_grid", "show_images", "save_grid", "save_gif", "plot_history",
    # any backend (compute.py) and errors (errors.py)
    "predict", "gradients", "weight_gradients", "UsageError",
]  # fmt: skip
