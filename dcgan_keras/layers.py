"""The paper's strided layers, computed faster: same weights, same outputs.

``SubPixelConv2DTranspose`` (the generator's upsampling) and
``SpaceToDepthConv2D`` (the discriminator's downsampling).

A stride-2 transposed convolution writes each output pixel from a few input
pixels, and which kernel taps it uses depends only on the output pixel's
*phase* (row and column parity). So the same result comes from one ordinary
stride-1 3x3 convolution that produces all four phases as 4x the channels,
followed by depth-to-space, which interleaves them into the 2x larger image
(Shi et al., 2016). The weights are still the (k, k, out, in) kernel of
``Conv2DTranspose``; only the arithmetic is rearranged. XLA lowers strided
transposed convolutions poorly on GPUs, and the rearranged form avoids them.
Kernels 2 to 6 fit a 3x3 window; larger ones need a wider window (5x5 for 7
to 10), which the layers use, so every kernel size from 2 up is computed.
Notebook 02 derives the rearrangement (``conv_arithmetic.subpixel_kernel``);
tests/test_layers.py checks this layer against ``Conv2DTranspose``.
"""

import keras
import numpy as np
from keras import layers, ops

# --- the rearrangement, in numpy (notebook 02 derives it) ---------------------------------------


def _check_stride(kernel_size, stride):
    if kernel_size < stride:
        raise ValueError(
            f"kernel_size {kernel_size} < stride {stride} leaves gaps no stamp covers; "
            f"the sub-pixel rearrangement (and DCGAN) uses kernel_size >= stride."
        )


def phase_taps(kernel_size, stride, before):
    """For output phase r: the input offsets j and kernel taps a it combines.

    Output pixel ``q * stride + r`` of the transposed convolution receives
    ``x[q + j] * w[a]`` with ``a = r + before - j * stride`` for every ``a``
    inside the kernel: a stride-1 correlation, one per phase.
    """
    taps = []
    for phase in range(stride):
        shift = phase + before
        offsets = range(-((kernel_size - 1 - shift) // stride), shift // stride + 1)
        taps.append([(j, shift - j * stride) for j in offsets])
    return taps


def subpixel_kernel(kernel, stride, padding="same"):
    """Rearrange a ``Conv2DTranspose`` kernel into a stride-1 sub-pixel kernel.

    Returns ``(subkernel, (pad_before, pad_after))``: zero-pad the input by
    that much, run a "valid" stride-1 ``conv2d`` with ``subkernel`` (layout
    ``(k', k', in, stride**2 * out)``), apply ``depth_to_space(stride)`` and
    crop to ``output_size``: the result equals the transposed convolution.
    Every phase gets its own k' x k' slice; taps a phase does not use stay 0.
    For kernel 4 or 5 at stride 2 with "same", k' = 3 and the padding is
    (1, 1), i.e. a Keras ``Conv2D(4 * out, 3, padding="same")``.
    """
    kernel_size, _, out_channels, in_channels = kernel.shape
    _check_stride(kernel_size, stride)
    before = max(kernel_size - stride, 0) // 2 if padding == "same" else 0
    taps = phase_taps(kernel_size, stride, before)
    offsets = [j for phase in taps for j, _ in phase]
    low, high = min(offsets), max(offsets)
    size = high - low + 1
    sub = np.zeros((size, size, in_channels, stride, stride, out_channels), kernel.dtype)
    for phase_y, taps_y in enumerate(taps):
        for phase_x, taps_x in enumerate(taps):
            for j_y, a_y in taps_y:
                for j_x, a_x in taps_x:
                    # (out, in) -> (in, out): Conv2D's layout
                    sub[j_y - low, j_x - low, :, phase_y, phase_x] = kernel[a_y, a_x].T
    return sub.reshape(size, size, in_channels, stride * stride * out_channels), (-low, high)


def _window_radius(before, after):
    """Half the side of the odd, centred window that holds offsets -before..after (at least 3x3)."""
    return max(before, after, 1)


def phase_tap_index(kernel_size, stride=2):
    """Which tap of a k x k kernel each sub-pixel weight copies (0: none, else 1 + flat tap).

    Returns a ``(w, w, stride**2)`` window, centred on the output's own input
    pixel: w = 3 for kernels 2 to 6 at stride 2, 5 for kernels 7 to 10, and so on.
    Obtained by pushing a kernel of tap numbers through the numpy
    rearrangement, so the layer and the notebook share one derivation.
    """
    numbered = np.arange(1.0, kernel_size * kernel_size + 1).reshape(kernel_size, kernel_size, 1, 1)
    index, (before, after) = subpixel_kernel(numbered, stride)
    # The minimal window spans input offsets -before..after; place it in -radius..radius.
    radius = _window_radius(before, after)
    window = np.zeros((2 * radius + 1, 2 * radius + 1, stride * stride), dtype="int32")
    window[radius - before : radius + 1 + after, radius - before : radius + 1 + after] = index[:, :, 0, :]
    return window


@keras.saving.register_keras_serializable(package="dcgan_keras")
class SubPixelConv2DTranspose(layers.Conv2DTranspose):
    """``Conv2DTranspose(strides=2, padding="same")`` as a 3x3 convolution + depth-to-space.

    Same weights, same config, same outputs (to float rounding) as the parent
    class, so a checkpoint of either loads into the other. Any square kernel
    from 2 up: 2 to 6 give a 3x3 convolution, 7 to 10 a 5x5 one (``phase_tap_index``).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        square = self.kernel_size[0] == self.kernel_size[1]
        if self.strides != (2, 2) or self.padding != "same" or not square:
            raise ValueError(
                "SubPixelConv2DTranspose computes square kernels at strides=2 with "
                f"padding='same'; got kernel {self.kernel_size}, strides {self.strides}, "
                f"padding {self.padding!r}. Use keras.layers.Conv2DTranspose otherwise."
            )
        if self.data_format != "channels_last":
            raise ValueError("SubPixelConv2DTranspose supports channels_last only.")
        self._tap_index = phase_tap_index(self.kernel_size[0])

    def _phase_kernel(self):
        """(k, k, out, in) -> (w, w, in, 4 * out): one w x w kernel per output phase (w = 3 up to kernel 6)."""
        window = self._tap_index.shape[0]
        taps = ops.reshape(self.kernel, (-1, self.filters, ops.shape(self.kernel)[-1]))
        taps = ops.concatenate([ops.zeros_like(taps[:1]), taps])  # row 0: "no tap"
        kernel = ops.take(taps, self._tap_index, axis=0)  # (w, w, 4, out, in)
        kernel = ops.transpose(kernel, (0, 1, 4, 2, 3))  # (w, w, in, phase, out)
        return ops.reshape(kernel, (window, window, -1, 4 * self.filters))

    def call(self, inputs):
        phases = ops.conv(inputs, ops.cast(self._phase_kernel(), inputs.dtype), strides=1, padding="same")
        outputs = ops.depth_to_space(phases, 2)
        if self.use_bias:
            outputs = outputs + ops.cast(self.bias, outputs.dtype)
        return self.activation(outputs) if self.activation is not None else outputs


def space_to_depth_tap_index(kernel_size):
    """For a stride-2 "same" convolution read through space-to-depth: which tap
    (0: none, else 1 + flat tap) each window offset and input phase uses.

    Output o reads input 2o + t - before, with before = (k - 2) // 2 for an
    even input; writing the input index as 2(o + m) + r gives t = 2m + r + before.
    Returns a ``(w, w, 4)`` window of block offsets m: w = 3 for kernels 2 to 6, 5 for 7 to 10.
    """
    before = max(kernel_size - 2, 0) // 2
    # t = 2m + r + before must lie in 0..k-1 for r = 1 (lowest m) or r = 0 (highest m).
    radius = _window_radius((before + 1) // 2, (kernel_size - 1 - before) // 2)
    offsets = range(-radius, radius + 1)
    index = np.zeros((len(offsets), len(offsets), 2, 2), dtype="int32")
    for row_offset in offsets:
        for col_offset in offsets:
            for row_phase in (0, 1):
                for col_phase in (0, 1):
                    row_tap = 2 * row_offset + row_phase + before
                    col_tap = 2 * col_offset + col_phase + before
                    if 0 <= row_tap < kernel_size and 0 <= col_tap < kernel_size:
                        flat = row_tap * kernel_size + col_tap + 1
                        index[row_offset + radius, col_offset + radius, row_phase, col_phase] = flat
    return index.reshape(len(offsets), len(offsets), 4)


@keras.saving.register_keras_serializable(package="dcgan_keras")
class SpaceToDepthConv2D(layers.Conv2D):
    """``Conv2D(strides=2, padding="same")`` as space-to-depth + a 3x3 stride-1 convolution.

    The mirror image of ``SubPixelConv2DTranspose``: folding each 2x2 block of
    pixels into channels turns the strided convolution into a plain one, and
    its gradient with respect to the input (what the generator's update
    backpropagates through) into a plain one too. Even input sizes only, as
    every DCGAN discriminator stage has. Any square kernel from 2 up: 2 to 6
    give a 3x3 convolution, 7 to 10 a 5x5 one (``space_to_depth_tap_index``).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        square = self.kernel_size[0] == self.kernel_size[1]
        if self.strides != (2, 2) or self.padding != "same" or not square or self.dilation_rate != (1, 1):
            raise ValueError(
                "SpaceToDepthConv2D computes square kernels at strides=2 with padding='same'; "
                f"got kernel {self.kernel_size}, strides {self.strides}, padding {self.padding!r}. "
                "Use keras.layers.Conv2D otherwise."
            )
        if self.kernel_size[0] < 2 or self.data_format != "channels_last" or self.groups != 1:
            raise ValueError("SpaceToDepthConv2D needs kernel_size >= 2, channels_last and groups=1.")
        self._tap_index = space_to_depth_tap_index(self.kernel_size[0])

    def _block_kernel(self):
        """(k, k, in, out) -> (w, w, 4 * in, out), channels ordered (row phase, column phase, in)."""
        window = self._tap_index.shape[0]
        taps = ops.reshape(self.kernel, (-1, ops.shape(self.kernel)[2], self.filters))
        taps = ops.concatenate([ops.zeros_like(taps[:1]), taps])  # row 0: "no tap"
        kernel = ops.take(taps, self._tap_index, axis=0)  # (w, w, 4, in, out)
        return ops.reshape(kernel, (window, window, -1, self.filters))

    def call(self, inputs):
        batch, height, width, channels = (ops.shape(inputs)[i] for i in range(4))
        blocks = ops.reshape(inputs, (batch, height // 2, 2, width // 2, 2, channels))
        blocks = ops.transpose(blocks, (0, 1, 3, 2, 4, 5))
        blocks = ops.reshape(blocks, (batch, height // 2, width // 2, 4 * channels))
        outputs = ops.conv(blocks, ops.cast(self._block_kernel(), inputs.dtype), strides=1, padding="same")
        if self.use_bias:
            outputs = outputs + ops.cast(self.bias, outputs.dtype)
        return self.activation(outputs) if self.activation is not None else outputs


@keras.saving.register_keras_serializable(package="dcgan_keras")
class LearnedGrid(layers.Layer):
    """Add a learned constant ``size x size x channels`` grid to its input (broadcast over positions).

    The generator's ``projection="grid"`` feeds it z mapped to one value per
    channel, so position-specific content comes only from the constant, and z
    reaches every position through the same weights. That separates "a grid
    with a learned position" from "a fully connected projection of z", which
    the Dense projection gives at once.
    """

    def __init__(self, size, channels, initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.size, self.channels = int(size), int(channels)
        self.initializer = keras.initializers.get(initializer)

    def build(self, input_shape):
        self.grid = self.add_weight(shape=(self.size, self.size, self.channels), initializer=self.initializer,
                                    name="grid")

    def call(self, x):
        return ops.add(ops.cast(self.grid, x.dtype), x)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.size, self.size, self.channels)

    def get_config(self):
        return {**super().get_config(), "size": self.size, "channels": self.channels,
                "initializer": keras.initializers.serialize(self.initializer)}
