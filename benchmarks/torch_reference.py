"""The same DCGANs written in plain PyTorch, trained the way the PyTorch examples train.

This is the yardstick for benchmarks/throughput.py: one G forward, D on real
and on fake.detach(), then G through the updated D, with bf16 autocast for
mixed precision. The layouts mirror `dcgan_keras.build_generator` /
`build_discriminator` so that both sides do the same arithmetic. The variants
are what a PyTorch user would try, in order, to go faster (``VARIANTS``):

- ``torch``: eager, default (NCHW) memory format;
- ``torch-channels-last``: eager, models and batches in channels_last;
- ``torch-compile``: channels_last, both models through ``torch.compile()``;
- ``torch-max-autotune``: the same with ``mode="max-autotune"`` (Triton autotuning);
- ``torch-cudagraphs``: the same with ``mode="reduce-overhead"``, which replays
  each compiled model as a CUDA graph (CUDA only).

The benchmark's "best PyTorch" is the fastest of these in each cell.
"""

import torch
from torch import nn


def _same_padding(kernel_size):
    """Padding that makes a stride-2 (transposed) conv halve (double) the size."""
    return (kernel_size - 1) // 2, kernel_size % 2  # (padding, output_padding)


def build(layout, latent_dim=100):
    """(generator, discriminator, image_shape CHW) for a layout of throughput.LAYOUTS."""
    size, channels, width, kernel, start = (layout["size"], layout["channels"], layout["width"], layout["kernel"],
                                            layout["start"])
    stages = {4: {64: 4, 32: 3}, 7: {28: 2}}[start][size]
    pad, out_pad = _same_padding(kernel)
    hidden = width * 2 ** (stages - 1)

    g_layers = [nn.Linear(latent_dim, start * start * hidden, bias=False), nn.Unflatten(1, (hidden, start, start)),
                nn.BatchNorm2d(hidden), nn.ReLU(True)]
    for _ in range(stages - 1):
        g_layers += [nn.ConvTranspose2d(hidden, hidden // 2, kernel, 2, pad, output_padding=out_pad, bias=False),
                     nn.BatchNorm2d(hidden // 2), nn.ReLU(True)]
        hidden //= 2
    g_layers += [nn.ConvTranspose2d(hidden, channels, kernel, 2, pad, output_padding=out_pad), nn.Tanh()]

    d_layers, in_channels = [], channels
    for stage in range(stages):
        out_channels = width * 2**stage
        d_layers.append(nn.Conv2d(in_channels, out_channels, kernel, 2, pad, bias=stage == 0))
        if stage:
            d_layers.append(nn.BatchNorm2d(out_channels))
        d_layers.append(nn.LeakyReLU(0.2, True))
        in_channels = out_channels
    d_layers += [nn.Flatten(), nn.Linear(in_channels * start * start, 1)]
    return nn.Sequential(*g_layers), nn.Sequential(*d_layers), (channels, size, size)


# variant -> (channels_last, torch.compile mode or None for eager)
VARIANTS = {
    "torch": (False, None),
    "torch-channels-last": (True, None),
    "torch-compile": (True, "default"),
    "torch-max-autotune": (True, "max-autotune"),
    "torch-cudagraphs": (True, "reduce-overhead"),
}


def unavailable(variant, device):
    """Why ``variant`` cannot run on ``device`` (a sentence), or None when it can."""
    _, mode = VARIANTS[variant]
    if mode == "reduce-overhead" and device != "cuda":
        return "CUDA graphs need a CUDA device"
    if mode is not None and device == "cpu":
        import shutil

        if shutil.which("g++") is None and shutil.which("c++") is None:
            return "torch.compile on the CPU needs a C++ compiler"
    return None


def make_step(layout, batch, mixed, device, variant="torch"):
    """One training iteration as a closure, with its inputs already on ``device``."""
    channels_last, mode = VARIANTS[variant]
    torch.backends.cudnn.benchmark = True
    generator, discriminator, image_shape = build(layout)
    generator, discriminator = generator.to(device), discriminator.to(device)
    real = torch.randn(batch, *image_shape, device=device)
    if channels_last:
        generator = generator.to(memory_format=torch.channels_last)
        discriminator = discriminator.to(memory_format=torch.channels_last)
        real = real.to(memory_format=torch.channels_last)
    # Fused Adam on CUDA: one kernel for all parameters, what a tuned loop uses.
    adam = dict(lr=2e-4, betas=(0.5, 0.999), fused=device == "cuda")
    g_optimizer = torch.optim.Adam(generator.parameters(), **adam)
    d_optimizer = torch.optim.Adam(discriminator.parameters(), **adam)
    if mode is not None:
        generator, discriminator = torch.compile(generator, mode=mode), torch.compile(discriminator, mode=mode)
    loss = nn.BCEWithLogitsLoss()
    ones = torch.ones(batch, 1, device=device)
    zeros = torch.zeros(batch, 1, device=device)

    def step():
        if mode == "reduce-overhead":
            torch.compiler.cudagraph_mark_step_begin()  # the graphs' outputs of the last step may be reused
        with torch.autocast(device, dtype=torch.bfloat16, enabled=mixed):
            fake = generator(torch.randn(batch, 100, device=device))
            d_optimizer.zero_grad(set_to_none=True)
            d_loss = loss(discriminator(real).float(), ones) + loss(discriminator(fake.detach()).float(), zeros)
            d_loss.backward()
            d_optimizer.step()
            g_optimizer.zero_grad(set_to_none=True)
            g_loss = loss(discriminator(fake).float(), ones)
            g_loss.backward()
            g_optimizer.step()
        return g_loss

    return step
