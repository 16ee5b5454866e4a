"""The benchmark's PyTorch yardstick and its table (benchmarks/), without timing anything."""

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))
torch = pytest.importorskip("torch")

import throughput  # noqa: E402
import torch_reference  # noqa: E402

TINY = dict(size=28, channels=1, width=4, kernel=5, start=7)


@pytest.mark.parametrize("variant", ["torch", "torch-channels-last"])
def test_eager_variants_train(variant):
    torch.manual_seed(0)
    step = torch_reference.make_step(TINY, 4, mixed=False, device="cpu", variant=variant)
    losses = [float(step().detach()) for _ in range(3)]
    assert np.all(np.isfinite(losses))


def test_reference_mirrors_the_package_layout():
    from dcgan_keras.models import multiply_adds

    generator, discriminator, shape = torch_reference.build(TINY, latent_dim=100)
    gan = throughput.build_gan(TINY)
    for torch_model, keras_model in ((generator, gan.generator), (discriminator, gan.discriminator)):
        # Keras counts BatchNorm's moving mean and variance as parameters; PyTorch keeps them as buffers.
        moving = sum(2 * layer.moving_mean.shape[0] for layer in keras_model.layers if hasattr(layer, "moving_mean"))
        assert sum(p.numel() for p in torch_model.parameters()) == keras_model.count_params() - moving
    assert shape == (1, 28, 28) and multiply_adds(gan.generator) > 0


def test_cuda_graphs_are_skipped_with_a_reason_on_the_cpu():
    assert torch_reference.unavailable("torch-cudagraphs", "cpu") == "CUDA graphs need a CUDA device"
    assert torch_reference.unavailable("torch", "cpu") is None
    rate, why = throughput.measure_torch("mnist", 4, "float32", 0.01, "torch-cudagraphs")
    assert rate is None and "CUDA" in why


def test_table_compares_each_cell_with_its_own_best_pytorch(capsys):
    def row(impl, rate, precision="float32", **extra):
        return dict(layout="paper", batch=512, precision=precision, impl=impl, img_per_s=rate,
                    tflops=None, backend="jax", device="gpu", **extra)

    throughput.print_table([
        row("keras-auto", 300.0), row("torch", 100.0), row("torch-compile", 200.0),
        row("torch-cudagraphs", None, skipped="failed: RuntimeError: boom"),
        row("keras-auto", 90.0, "mixed_bfloat16"), row("torch", 100.0, "mixed_bfloat16"),
    ])
    lines = capsys.readouterr().out.splitlines()
    auto32, auto16 = [line.split() for line in lines if "keras-auto" in line]
    assert auto32[-2:] == ["3.00x", "1.50x"]  # vs eager, vs torch-compile in its own cell
    assert auto16[-2:] == ["0.90x", "0.90x"]  # bf16 is judged against bf16 only
    assert any("torch-cudagraphs" in line and "boom" in line for line in lines)
    assert "Best PyTorch at paper 512 float32: torch-compile (200 img/s)." in lines
