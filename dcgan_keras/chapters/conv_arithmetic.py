"""Fractional-strided (transposed) convolution in plain numpy.

Notebook 02 uses these to open up ``keras.layers.Conv2DTranspose``, and the
tests use them as its oracle. ``subpixel_kernel`` lives in ``dcgan_keras.layers``,
which builds its faster exact layer from it. Two equivalent views of the same operation:

- ``transposed_conv2d``: the chapter's recipe. Insert ``stride - 1`` zeros
  between neighbouring pixels, pad ``kernel - 1`` zeros around the border, and
  run an ordinary stride-1 convolution with the spatially flipped kernel.
- ``scatter_conv2d``: the "transpose" view. Every input pixel stamps a copy of
  the kernel, scaled by its value, onto the output at ``stride`` spacing;
  overlapping stamps add up. This is exactly the gradient of a strided
  convolution with respect to its input.
- ``subpixel_conv_transpose``: the "sub-pixel" view (Shi et al., 2016). A
  stride-1 convolution computes all ``stride**2`` output phases as channels,
  and ``depth_to_space`` interleaves them into the larger image.

``conv_matrix`` writes a strided convolution as an explicit matrix C, whose
transpose is the transposed convolution.

Arrays are channels-last, ``(height, width, channels)``, and kernels use
Keras' ``Conv2DTranspose`` layout ``(kernel_h, kernel_w, out_channels, in_channels)``.
"""

import numpy as np

# The library's own derivation (the sub-pixel layer is built from it); shown here beside the other views.
from dcgan_keras.layers import phase_taps, subpixel_kernel


def output_size(input_size, kernel_size, stride, padding="valid", output_padding=None):
    """Spatial output size of a transposed convolution, as Keras computes it.

    - "valid": ``(n - 1) * s + k``, every kernel stamp kept whole;
    - "same": ``n * s``, resolution multiplied by exactly the stride (the
      inverse of a "same" strided convolution, which divides it);
    - ``output_padding`` p (less than the stride) instead gives
      ``(n - 1) * s + k - 2 * pad + p`` with pad = k // 2 for "same", 0 for
      "valid". A stride-s convolution maps s different input sizes to the same
      output size, so going back is ambiguous; p picks one of them.
    """
    if padding not in ("valid", "same"):
        raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")
    if output_padding is not None:
        pad = kernel_size // 2 if padding == "same" else 0
        return (input_size - 1) * stride + kernel_size - 2 * pad + output_padding
    if padding == "same":
        return input_size * stride
    return input_size * stride + max(kernel_size - stride, 0)


def zero_insert(image, stride, border):
    """Spread pixels ``stride`` apart with zeros between them, then pad ``border`` zeros."""
    height, width, channels = image.shape
    spread = np.zeros(((height - 1) * stride + 1, (width - 1) * stride + 1, channels), image.dtype)
    spread[::stride, ::stride] = image
    return np.pad(spread, ((border, border), (border, border), (0, 0)))


def conv2d(image, kernel, stride=1):
    """A plain "valid" convolution (cross-correlation, as in every DL library).

    ``kernel`` has the ``Conv2D`` layout ``(kernel_h, kernel_w, in, out)``.
    """
    kernel_h, kernel_w, _, out_channels = kernel.shape
    out_h = (image.shape[0] - kernel_h) // stride + 1
    out_w = (image.shape[1] - kernel_w) // stride + 1
    out = np.zeros((out_h, out_w, out_channels), dtype=np.float64)
    for row in range(out_h):
        for column in range(out_w):
            window = image[row * stride : row * stride + kernel_h, column * stride : column * stride + kernel_w]
            out[row, column] = np.tensordot(window, kernel, axes=3)
    return out


def _crop_same(full, input_size, kernel_size, stride, padding):
    """Cut the "valid" result down to Keras' "same" size (no-op for "valid")."""
    if padding == "valid":
        return full
    before = max(kernel_size - stride, 0) // 2
    size = output_size(input_size, kernel_size, stride, "same")
    return full[before : before + size, before : before + size]


def _check_kernel(kernel_size, stride):
    if kernel_size < stride:
        raise ValueError(
            f"kernel_size {kernel_size} < stride {stride} leaves gaps no stamp covers; "
            f"these helpers (and DCGAN) use kernel_size >= stride."
        )


def transposed_conv2d(image, kernel, stride, padding="valid"):
    """Zero insertion + border padding + stride-1 convolution with the flipped kernel."""
    kernel_size = kernel.shape[0]
    _check_kernel(kernel_size, stride)
    upsampled = zero_insert(image, stride, border=kernel_size - 1)
    # Flip spatially and swap in/out: (k, k, out, in) -> (k, k, in, out).
    flipped = kernel[::-1, ::-1].transpose(0, 1, 3, 2)
    full = conv2d(upsampled, flipped)
    return _crop_same(full, image.shape[0], kernel_size, stride, padding)


def scatter_conv2d(image, kernel, stride, padding="valid"):
    """Each input pixel adds a scaled copy of the kernel to the output."""
    kernel_size = kernel.shape[0]
    _check_kernel(kernel_size, stride)
    height, width, _ = image.shape
    full_h, full_w = (height - 1) * stride + kernel_size, (width - 1) * stride + kernel_size
    full = np.zeros((full_h, full_w, kernel.shape[2]), dtype=np.float64)
    for row in range(height):
        for column in range(width):
            stamp = np.tensordot(kernel, image[row, column], axes=([3], [0]))
            full[row * stride : row * stride + kernel_size, column * stride : column * stride + kernel_size] += stamp
    return _crop_same(full, height, kernel_size, stride, padding)


def overlap_counts(input_size, kernel_size, stride, padding="same"):
    """How many kernel stamps land on each output pixel (uneven = checkerboard)."""
    ones_image = np.ones((input_size, input_size, 1))
    ones_kernel = np.ones((kernel_size, kernel_size, 1, 1))
    return scatter_conv2d(ones_image, ones_kernel, stride, padding)[..., 0]


# --- the matrix view: a strided convolution is y = C x ----------------------


def conv_matrix(input_size, kernel, stride):
    """The matrix C of a "valid" strided convolution: ``conv2d(x).ravel() == C @ x.ravel()``.

    ``kernel`` has the ``Conv2D`` layout ``(k, k, in, out)``; rows index the
    flattened output ``(row, column, out)``, columns the flattened input
    ``(row, column, in)``. Each row holds one copy of the kernel, placed where
    that output pixel's window sits, and zeros elsewhere.
    """
    kernel_size, _, in_channels, out_channels = kernel.shape
    out = (input_size - kernel_size) // stride + 1
    matrix = np.zeros((out, out, out_channels, input_size, input_size, in_channels))
    for row in range(out):
        for column in range(out):
            window = (slice(row * stride, row * stride + kernel_size),
                      slice(column * stride, column * stride + kernel_size))
            # kernel (k, k, in, out) -> (out, k, k, in) to match the row's layout
            matrix[row, column, :, window[0], window[1], :] = kernel.transpose(3, 0, 1, 2)
    return matrix.reshape(out * out * out_channels, input_size * input_size * in_channels)


# --- the sub-pixel view: stride-1 convolution + depth_to_space --------------


def depth_to_space(image, block):
    """``(h, w, block*block*c) -> (h*block, w*block, c)``, in TensorFlow's order.

    Channel ``(dy * block + dx) * c + channel`` of pixel ``(i, j)`` lands at
    ``(i * block + dy, j * block + dx)``: each group of ``c`` channels is one
    output phase (sub-pixel position) of the bigger image.
    """
    height, width, depth = image.shape
    channels = depth // (block * block)
    if channels * block * block != depth:
        raise ValueError(f"depth {depth} is not a multiple of block**2 = {block * block}")
    blocks = image.reshape(height, width, block, block, channels)
    return blocks.transpose(0, 2, 1, 3, 4).reshape(height * block, width * block, channels)


def subpixel_conv_transpose(image, kernel, stride, padding="same"):
    """``transposed_conv2d`` computed as stride-1 conv + ``depth_to_space``."""
    sub, (pad_before, pad_after) = subpixel_kernel(kernel, stride, padding)
    n = image.shape[0]
    size = output_size(n, kernel.shape[0], stride, padding)
    rows = -(-size // stride)  # ceil: enough low-resolution rows to cover the output
    pad_after += rows - n
    padded = np.pad(image, ((pad_before, pad_after), (pad_before, pad_after), (0, 0)))
    return depth_to_space(conv2d(padded, sub), stride)[:size, :size]


def phase_tap_counts(kernel_size, stride, padding="same"):
    """How many kernel taps each of the stride x stride output phases uses.

    Equal counts (kernel divisible by stride) mean every output pixel sums the
    same number of terms; unequal counts are the checkerboard. The pattern
    matches the interior of ``overlap_counts``.
    """
    before = max(kernel_size - stride, 0) // 2 if padding == "same" else 0
    per_axis = np.array([len(phase) for phase in phase_taps(kernel_size, stride, before)])
    return np.outer(per_axis, per_axis)


def icnr_kernel(kernel, stride):
    """A sub-pixel kernel whose ``stride**2`` phases are all copies of ``kernel``.

    ``kernel`` has the ``Conv2D`` layout ``(k, k, in, out)``. Every phase then
    computes the same value, so conv + ``depth_to_space`` equals conv followed
    by nearest-neighbour upsampling: no checkerboard, whatever the input
    (Aitken et al., 2017, "ICNR" initialisation).
    """
    return np.tile(kernel, (1, 1, 1, stride * stride))


def phase_means(images, stride):
    """Mean of each of the stride x stride sub-pixel phases over the last two axes: (..., H, W) -> (..., s, s).

    A checkerboard shows up as phases with different means; for a smooth
    image they agree.
    """
    images = np.asarray(images)
    means = [[images[..., dy::stride, dx::stride].mean(axis=(-2, -1)) for dx in range(stride)] for dy in range(stride)]
    return np.moveaxis(np.array(means), (0, 1), (-2, -1))


def block_contrast(image, stride):
    """Each pixel of a 2-D array divided by the mean of its stride x stride block.

    Removes slow variation across the image and keeps the period-``stride``
    pattern: a checkerboard-free image gives 1 everywhere.
    """
    height, width = (image.shape[0] // stride) * stride, (image.shape[1] // stride) * stride
    image = image[:height, :width]
    blocks = image.reshape(height // stride, stride, width // stride, stride).mean(axis=(1, 3))
    return image / blocks.repeat(stride, axis=0).repeat(stride, axis=1)
