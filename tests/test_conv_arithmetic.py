"""Conv2DTranspose against numpy: zero insertion + flipped-kernel convolution."""

import keras
import numpy as np
import pytest

from dcgan_keras.conv_arithmetic import (
    conv2d,
    output_size,
    overlap_counts,
    scatter_conv2d,
    transposed_conv2d,
    zero_insert,
)


def _keras_transpose(image, kernel, stride, padding):
    layer = keras.layers.Conv2DTranspose(
        kernel.shape[2], kernel.shape[0], strides=stride, padding=padding, use_bias=False
    )
    layer.build((1, *image.shape))
    layer.kernel.assign(kernel)
    return np.asarray(layer(image[None].astype("float32")))[0]


def test_chapter_example_2x2_to_5x5():
    image = np.array([[1.0, 2.0], [3.0, 4.0]])[..., None]
    spread = zero_insert(image, stride=2, border=2)
    # zeros between the pixels and a border of kernel_size - 1 = 2 zeros around them
    expected = np.zeros((7, 7))
    expected[2, 2], expected[2, 4], expected[4, 2], expected[4, 4] = 1, 2, 3, 4
    np.testing.assert_array_equal(spread[..., 0], expected)

    kernel = np.arange(1.0, 10.0).reshape(3, 3, 1, 1)
    ours = transposed_conv2d(image, kernel, stride=2, padding="valid")
    assert ours.shape == (5, 5, 1)
    np.testing.assert_allclose(_keras_transpose(image, kernel, 2, "valid"), ours, atol=1e-5)


def test_it_inverts_resolution_not_values():
    """5x5 -> 3x3 stride-2 conv -> 2x2 -> transposed conv -> 5x5 again, other values."""
    rng = np.random.default_rng(0)
    image, kernel = rng.normal(size=(5, 5, 1)), rng.normal(size=(3, 3, 1, 1))
    small = conv2d(image, kernel, stride=2)
    assert small.shape == (2, 2, 1)
    back = transposed_conv2d(small, kernel, stride=2)
    assert back.shape == image.shape
    assert not np.allclose(back, image)


@pytest.mark.parametrize("kernel_size", [2, 3, 4, 5])
@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_general_sizes_match_keras(kernel_size, stride, padding):
    if kernel_size < stride:
        pytest.skip("DCGAN never uses a kernel smaller than its stride")
    rng = np.random.default_rng(kernel_size * 10 + stride)
    image = rng.normal(size=(4, 4, 3))
    kernel = rng.normal(size=(kernel_size, kernel_size, 2, 3))
    expected = _keras_transpose(image, kernel, stride, padding)
    assert expected.shape[0] == output_size(4, kernel_size, stride, padding)
    np.testing.assert_allclose(transposed_conv2d(image, kernel, stride, padding), expected, atol=1e-4)
    np.testing.assert_allclose(scatter_conv2d(image, kernel, stride, padding), expected, atol=1e-4)


@pytest.mark.parametrize("output_padding", [0, 1])
def test_output_padding_formula(output_padding):
    layer = keras.layers.Conv2DTranspose(1, 3, strides=2, padding="valid", output_padding=output_padding)
    shape = layer.compute_output_shape((1, 4, 4, 1))
    assert shape[1] == output_size(4, 3, 2, "valid", output_padding)


def test_transpose_is_the_gradient_of_strided_conv():
    """<conv(x), y> == <x, conv_transpose(y)>: the adjoint identity."""
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(7, 7, 2)), rng.normal(size=(3, 3, 4))
    kernel = rng.normal(size=(3, 3, 2, 4))  # Conv2D layout (k, k, in, out)
    forward = conv2d(x, kernel, stride=2)
    # Keras stores Conv2DTranspose kernels as (k, k, out, in) precisely so that
    # the same array serves the convolution and its transpose.
    backward = scatter_conv2d(y, kernel, stride=2)
    assert forward.shape == y.shape and backward.shape == x.shape
    assert np.sum(forward * y) == pytest.approx(np.sum(x * backward))


def test_overlap_counts_show_the_checkerboard():
    assert np.ptp(overlap_counts(4, 4, 2)[1:-1, 1:-1]) == 0  # 4 divisible by 2: even
    inner = overlap_counts(4, 3, 2)[1:-1, 1:-1]
    assert set(np.unique(inner)) == {1.0, 2.0, 4.0}  # 3 not divisible by 2: uneven


def test_kernel_smaller_than_stride_rejected():
    with pytest.raises(ValueError, match="kernel_size"):
        transposed_conv2d(np.ones((2, 2, 1)), np.ones((1, 1, 1, 1)), stride=2)
