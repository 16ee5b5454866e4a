"""The same DCGANs written in plain PyTorch, trained the way the PyTorch examples train.

This is the yardstick for benchmarks/throughput.py: an eager PyTorch loop
(one G forward, D on real and on fake.detach(), then G through the updated
D), channels_last on a GPU, bf16 autocast for mixed precision. The layouts
mirror `dcgan_keras.build_generator` / `build_discriminator` so that both
sides do the same arithmetic.
"""

import torch
from torch import nn


def _same_padding(kernel_size):
    """Padding that makes a stride-2 (transposed) conv halve (double) the size."""
    return (kernel_size - 1) // 2, kernel_size % 2  # (padding, output_padding)


def build(layout, latent_dim=100):
    """(generator, discriminator, image_shape CHW) for a layout of throughput.LAYOUTS."""
    size, channels, width, kernel, start = layout["size"], layout["channels"], layout["width"], layout["kernel"], layout["start"]
    stages = {4: {64: 4, 32: 3}, 7: {28: 2}}[start][size]
    pad, out_pad = _same_padding(kernel)
    hidden = width * 2 ** (stages - 1)

    g_layers = [nn.Linear(latent_dim, start * start * hidden, bias=False), nn.Unflatten(1, (hidden, start, start)),
                nn.BatchNorm2d(hidden), nn.ReLU(True)]  # fmt: skip
    for _ in range(stages - 1):
        g_layers += [nn.ConvTranspose2d(hidden, hidden // 2, kernel, 2, pad, output_padding=out_pad, bias=False),
                     nn.BatchNorm2d(hidden // 2), nn.ReLU(True)]  # fmt: skip
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


def make_step(layout, batch, mixed, device):
    """One training iteration as a closure, with its inputs already on ``device``."""
    torch.backends.cudnn.benchmark = True
    generator, discriminator, image_shape = build(layout)
    generator, discriminator = generator.to(device), discriminator.to(device)
    real = torch.randn(batch, *image_shape, device=device)
    if device == "cuda":
        generator = generator.to(memory_format=torch.channels_last)
        discriminator = discriminator.to(memory_format=torch.channels_last)
        real = real.to(memory_format=torch.channels_last)
    g_optimizer = torch.optim.Adam(generator.parameters(), 2e-4, betas=(0.5, 0.999))
    d_optimizer = torch.optim.Adam(discriminator.parameters(), 2e-4, betas=(0.5, 0.999))
    loss = nn.BCEWithLogitsLoss()
    ones = torch.ones(batch, 1, device=device)
    zeros = torch.zeros(batch, 1, device=device)

    def step():
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
