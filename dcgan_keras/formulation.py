"""Which exact formulation of the paper's strided layers to train with.

The paper's generator upsamples with ``Conv2DTranspose(strides=2)`` and its
discriminator downsamples with ``Conv2D(strides=2)``. ``dcgan_keras.layers``
computes the same two layers another way (sub-pixel convolution, and
space-to-depth plus a stride-1 convolution): same weights, same outputs to
float rounding, different speed. Which one is fastest depends on the backend,
the device and the kernel size, so it is looked up in a table of measurements
(``MEASURED``) rather than guessed.

    paper     Conv2DTranspose + Conv2D(strides=2): the literal layers, and
              ``build_generator()``'s teaching default
    subpixel  sub-pixel upsampling in G, the paper's strided Conv2D in D
    fast      sub-pixel upsampling in G, space-to-depth in D
    auto      the measured fastest for this backend, device and kernel;
              "paper" where nothing was measured

Every formulation computes every kernel size the builders take (3 and up): the
rewritten layers use a 3x3 window up to kernel 6 and a 5x5 one for 7 to 10, so
the larger kernels cost them more. "auto" picks a rewrite only for a measured
kernel (4 or 5), and the literal layers for any other.

``DCGAN.from_shape`` and ``train`` use "auto"; ``--formulation`` forces one.
The generators ``train`` saves hold the paper's plain layers (``as_paper_layers``),
so a file written on a GPU loads anywhere, with or without this package. Weights
move between formulations by position (``get_weights``/``set_weights``); a
``.weights.h5`` file is keyed by layer class, so it loads only into its own.
"""

import keras
from keras import layers

from dcgan_keras.devices import device_kind
from dcgan_keras.errors import UsageError
from dcgan_keras.layers import SpaceToDepthConv2D, SubPixelConv2DTranspose

# name -> (build_generator's upsampling, build_discriminator's downsampling)
FORMULATIONS = {
    "paper": ("transposed", "strided"),
    "subpixel": ("subpixel", "strided"),
    "fast": ("subpixel", "space_to_depth"),
}
CHOICES = ("auto", *FORMULATIONS)

# (backend, device kind, kernel size) -> the formulation "auto" picks, from
# benchmarks/throughput.py (impls keras, keras-subpixel, keras-fast). A rewritten
# formulation is picked only where it beat the literal layers by more than 10%,
# in that backend's default precision, in every run; on the 2-core CPU the same
# cell moved by up to 20% between two runs an hour apart. Elsewhere the literal
# layers stay. The comments give paper / subpixel / fast in img/s.
MEASURED = {
    # 2-core AMD EPYC (AVX512_BF16), MNIST layout (28x28x1, width 64) at batch 64, two runs on
    # 2026-12-02 (bash benchmarks/cpu.sh; the second is in benchmarks/results_cpu_*.txt).
    # TensorFlow 2.21 in bf16, its default here: 1,127 / 1,215 / 1,003, then 1,220 / 1,024 / 1,029.
    ("tensorflow", "cpu", 5): "paper",
    # JAX 0.10, float32: 306 / 733 / 555, then 306 / 819 / 590. XLA's CPU transposed convolutions
    # are slow: 66% of the literal layers' step in a small profile (width 8, batch 16;
    # benchmarks/profile_step.py).
    ("jax", "cpu", 5): "subpixel",
    # PyTorch 2.13, float32: 521 / 540 / 556, then 589 / 641 / 747. Not faster by 10% in both.
    ("torch", "cpu", 5): "paper",
    # H200, JAX 0.10, paper layout (64x64x3, width 128) at batch 512, bf16 (benchmarks/results_h200.txt):
    # 11,188 / 17,603 / 25,992. At batch 128: float32 4,808 / 6,866 / 10,558, bf16 10,401 / 13,945 / 19,378.
    ("jax", "gpu", 5): "fast",
    # H200, torchref layout (64x64x3, width 64, kernel 4) at batch 512, bf16: 66,872 / 85,812 / 71,950.
    # At batch 128: float32 20,162 / 34,978 / 28,702, bf16 43,792 / 47,102 / 40,440.
    ("jax", "gpu", 4): "subpixel",
}


def resolve(name="auto", kernel_size=5):
    """The formulation to use for ``name``: itself, or for "auto" the measured choice (``MEASURED``),
    which is "paper" for a kernel size, backend or device not measured.

    Like ``precision.resolve``, it returns a name; ``FORMULATIONS[name]`` gives its layers.
    """
    if name == "auto":
        name = MEASURED.get((keras.backend.backend(), device_kind(), kernel_size), "paper")
    if name not in FORMULATIONS:
        raise UsageError(f"formulation must be one of {', '.join(CHOICES)}; got {name!r}.")
    return name


def as_paper_layers(model):
    """A copy of ``model`` with the paper's plain layers in place of the fast ones, same weights.

    The fast layers keep their parent class's config and weights, so each maps
    back one to one; the copy computes the same function with stock Keras layers.
    """
    plain = {SubPixelConv2DTranspose: layers.Conv2DTranspose, SpaceToDepthConv2D: layers.Conv2D}
    if not any(type(layer) in plain for layer in model.layers):
        return model

    def clone(layer):
        return plain.get(type(layer), type(layer)).from_config(layer.get_config())

    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    return copy
