"""``SubPixelConv2DTranspose``: the paper's transposed convolution, computed faster.

A stride-2 transposed convolution writes each output pixel from a few input
pixels, and which kernel taps it uses depends only on the output pixel's
*phase* (row and column parity). So the same result comes from one ordinary
stride-1 3x3 convolution that produces all four phases as 4x the channels,
followed by depth-to-space, which interleaves them into the 2x larger image
(Shi et al., 2016). The weights are still the (k, k, out, in) kernel of
``Conv2DTranspose``; only the arithmetic is rearranged. XLA lowers the strided
transposed convolution poorly on GPUs, and the rearranged form avoids it.
Notebook 02 derives the rearrangement; tests/test_layers.py checks the result
against ``Conv2DTranspose``.
"""

import numpy as np
import keras
from keras import layers, ops

WINDOW = 3  # offsets -1, 0, +1 cover every tap for kernels of size 2 to 6 at stride 2


def phase_taps(kernel_size, stride=2):
    """For each window offset and output phase, the kernel tap it reads (or -1).

    Output pixel o = 2q + r of a "same" transposed convolution reads input
    q + m through tap t = r + crop - 2m, where crop = (k - s) // 2 is what
    "same" cuts off the full output's start.
    """
    crop = max(kernel_size - stride, 0) // 2
    taps = np.full((WINDOW, stride), -1)
    for offset_index, offset in enumerate(range(-(WINDOW // 2), WINDOW // 2 + 1)):
        for phase in range(stride):
            tap = phase + crop - stride * offset
            if 0 <= tap < kernel_size:
                taps[offset_index, phase] = tap
    return taps


@keras.saving.register_keras_serializable(package="dcgan_keras")
class SubPixelConv2DTranspose(layers.Conv2DTranspose):
    """``Conv2DTranspose(strides=2, padding="same")`` as a 3x3 convolution + depth-to-space.

    Same weights, same config, same outputs (to float rounding) as the
    parent class; a checkpoint of either loads into the other.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.strides != (2, 2) or self.padding != "same" or self.kernel_size[0] != self.kernel_size[1]:
            raise ValueError(
                "SubPixelConv2DTranspose computes square kernels at strides=2 with "
                f"padding='same'; got kernel {self.kernel_size}, strides {self.strides}, "
                f"padding {self.padding!r}. Use keras.layers.Conv2DTranspose otherwise."
            )
        if not 2 <= self.kernel_size[0] <= 6:
            raise ValueError(f"kernel_size must be 2 to 6, got {self.kernel_size[0]}.")
        if self.data_format != "channels_last":
            raise ValueError("SubPixelConv2DTranspose supports channels_last only.")
        # Index kernel_size means "the zero tap" (see _phase_kernel).
        taps = phase_taps(self.kernel_size[0])
        self._taps = np.where(taps < 0, self.kernel_size[0], taps).reshape(-1)

    def _phase_kernel(self):
        """(k, k, out, in) -> (3, 3, in, 4 * out): one 3x3 kernel per output phase."""
        out_channels = self.filters
        kernel = ops.pad(self.kernel, [[0, 1], [0, 1], [0, 0], [0, 0]])  # a zero tap at index k
        kernel = ops.take(kernel, self._taps, axis=0)  # (3 * 2, k + 1, out, in)
        kernel = ops.take(kernel, self._taps, axis=1)  # (3 * 2, 3 * 2, out, in)
        kernel = ops.reshape(kernel, (WINDOW, 2, WINDOW, 2, out_channels, -1))
        # -> (row offset, column offset, in, row phase, column phase, out)
        kernel = ops.transpose(kernel, (0, 2, 5, 1, 3, 4))
        return ops.reshape(kernel, (WINDOW, WINDOW, -1, 4 * out_channels))

    def call(self, inputs):
        phases = ops.conv(inputs, ops.cast(self._phase_kernel(), inputs.dtype), strides=1, padding="same")
        batch, height, width = ops.shape(phases)[0], ops.shape(phases)[1], ops.shape(phases)[2]
        outputs = ops.reshape(phases, (batch, height, width, 2, 2, self.filters))
        outputs = ops.transpose(outputs, (0, 1, 3, 2, 4, 5))  # interleave rows, then columns
        outputs = ops.reshape(outputs, (batch, 2 * height, 2 * width, self.filters))
        if self.use_bias:
            outputs = outputs + ops.cast(self.bias, outputs.dtype)
        return self.activation(outputs) if self.activation is not None else outputs
