"""Conv2DTranspose against numpy: zero insertion, the matrix view, the sub-pixel view."""

import keras
import numpy as np
import pytest
from keras import ops

from dcgan_keras.chapters.conv_arithmetic import (
    block_contrast,
    conv2d,
    conv_matrix,
    depth_to_space,
    icnr_kernel,
    output_size,
    overlap_counts,
    phase_means,
    phase_tap_counts,
    scatter_conv2d,
    subpixel_conv_transpose,
    subpixel_kernel,
    transposed_conv2d,
    zero_insert,
)
from dcgan_keras.chapters.gradients import gradients


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


# --- conv_matrix --------------------------------------------------------------


@pytest.mark.parametrize("input_size,kernel_size,stride", [(5, 3, 2), (4, 3, 2), (7, 3, 2), (6, 2, 2), (5, 3, 1)])
def test_conv_matrix_reproduces_conv2d(input_size, kernel_size, stride):
    rng = np.random.default_rng(input_size + kernel_size)
    x = rng.normal(size=(input_size, input_size, 2))
    kernel = rng.normal(size=(kernel_size, kernel_size, 2, 3))
    matrix = conv_matrix(input_size, kernel, stride)
    expected = conv2d(x, kernel, stride)
    assert matrix.shape == (expected.size, x.size)
    np.testing.assert_allclose(matrix @ x.ravel(), expected.ravel(), atol=1e-12)


def test_conv_matrix_transpose_is_conv2d_transpose_and_the_gradient():
    rng = np.random.default_rng(3)
    kernel = rng.normal(size=(3, 3, 2, 3))
    x, y = rng.normal(size=(5, 5, 2)), rng.normal(size=(2, 2, 3))
    back = (conv_matrix(5, kernel, 2).T @ y.ravel()).reshape(x.shape)
    np.testing.assert_allclose(back, scatter_conv2d(y, kernel, 2), atol=1e-12)
    np.testing.assert_allclose(back, _keras_transpose(y, kernel, 2, "valid"), atol=1e-5)
    def inner(image):
        return ops.sum(ops.conv(image, kernel.astype("float32"), 2, "valid") * y[None].astype("float32"))

    np.testing.assert_allclose(gradients(inner, x[None])[0], back, atol=1e-5)


# --- depth_to_space and the sub-pixel formulation ------------------------------


@pytest.mark.parametrize("block", [2, 3])
def test_depth_to_space_matches_keras(block):
    x = np.random.default_rng(block).normal(size=(3, 4, block * block * 5)).astype("float32")
    ours = depth_to_space(x, block)
    assert ours.shape == (3 * block, 4 * block, 5)
    np.testing.assert_array_equal(ours, np.asarray(keras.ops.depth_to_space(x[None], block))[0])


def test_depth_to_space_rejects_wrong_depth():
    with pytest.raises(ValueError, match="multiple"):
        depth_to_space(np.zeros((2, 2, 6)), 2)


@pytest.mark.parametrize("kernel_size,stride", [(2, 2), (3, 2), (4, 2), (5, 2), (3, 3), (5, 3), (6, 3), (3, 1)])
@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("input_size", [3, 4])
def test_subpixel_equals_conv2d_transpose(kernel_size, stride, padding, input_size):
    rng = np.random.default_rng(kernel_size * 7 + stride)
    image = rng.normal(size=(input_size, input_size, 3))
    kernel = rng.normal(size=(kernel_size, kernel_size, 2, 3))
    expected = _keras_transpose(image, kernel, stride, padding)
    np.testing.assert_allclose(subpixel_conv_transpose(image, kernel, stride, padding), expected, atol=1e-4)


@pytest.mark.parametrize("kernel_size", [4, 5])
def test_subpixel_with_keras_layers_for_dcgan_kernels(kernel_size):
    """k=4 or 5, stride 2, "same" == Conv2D(4*out, 3, "same") + depth_to_space."""
    rng = np.random.default_rng(kernel_size)
    image = rng.normal(size=(1, 6, 6, 3)).astype("float32")
    kernel = rng.normal(size=(kernel_size, kernel_size, 2, 3)).astype("float32")
    sub, padding = subpixel_kernel(kernel, 2)
    assert sub.shape == (3, 3, 3, 8) and padding == (1, 1)
    conv = keras.layers.Conv2D(8, 3, padding="same", use_bias=False)
    conv.build(image.shape)
    conv.kernel.assign(sub)
    ours = np.asarray(keras.ops.depth_to_space(conv(image), 2))[0]
    np.testing.assert_allclose(ours, _keras_transpose(image[0], kernel, 2, "same"), atol=1e-4)


def test_subpixel_kernel_puts_each_tap_exactly_once():
    kernel = np.arange(1.0, 26.0).reshape(5, 5, 1, 1)
    sub, _ = subpixel_kernel(kernel, 2)
    values = sub[sub != 0]
    assert sorted(values) == list(range(1, 26))  # a rearrangement, nothing added or lost


@pytest.mark.parametrize("kernel_size,stride", [(3, 2), (4, 2), (5, 2), (5, 3), (7, 3)])
def test_phase_tap_counts_match_overlap_interior(kernel_size, stride):
    counts = overlap_counts(12, kernel_size, stride)
    middle = 6 * stride
    block = counts[middle : middle + stride, middle : middle + stride]
    np.testing.assert_array_equal(block, phase_tap_counts(kernel_size, stride))
    assert phase_tap_counts(kernel_size, stride).sum() == kernel_size**2


def test_checkerboard_free_exactly_when_divisible():
    assert np.ptp(phase_tap_counts(4, 2)) == 0
    assert np.ptp(phase_tap_counts(6, 3)) == 0
    assert phase_tap_counts(5, 2).tolist() == [[4, 6], [6, 9]]


def test_icnr_kernel_is_conv_then_nearest_upsampling():
    rng = np.random.default_rng(5)
    image, kernel = rng.normal(size=(5, 5, 2)), rng.normal(size=(3, 3, 2, 4))
    upsampled = depth_to_space(conv2d(image, icnr_kernel(kernel, 2)), 2)
    nearest = conv2d(image, kernel).repeat(2, axis=0).repeat(2, axis=1)
    np.testing.assert_allclose(upsampled, nearest)
    assert np.ptp(phase_means(upsampled[..., 0], 2)) < 1e-12


def test_phase_means():
    image = np.array([[1.0, 2.0, 1.0, 2.0], [3.0, 4.0, 3.0, 4.0]])
    np.testing.assert_array_equal(phase_means(image, 2), [[1, 2], [3, 4]])


def test_block_contrast_keeps_only_the_periodic_pattern():
    ramp = np.add.outer(np.arange(8.0), np.arange(8.0)) + 10  # slow variation, no checkerboard
    checker = np.tile([[1.0, 2.0], [2.0, 4.0]], (4, 4))
    np.testing.assert_allclose(block_contrast(np.repeat(np.repeat(ramp[::2, ::2], 2, 0), 2, 1), 2), 1.0)
    np.testing.assert_allclose(block_contrast(checker * 5.0, 2), checker / 2.25)
    assert block_contrast(np.ones((5, 5)), 2).shape == (4, 4)
