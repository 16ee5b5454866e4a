"""Drawing from a generator: z ~ N(0, I), samples, and paths between latent points.

Everything that turns noise into pictures calls ``sample``: the sample grids,
the evaluators, ``DCGAN.generate`` and the ``sample`` command. A seed gives the
same z, and so the same images, on every backend.
"""

import numpy as np

from dcgan_keras.compute import predict


def latent_noise(num_images, latent_dim, seed=None):
    """z ~ N(0, I) as float32 numpy, identical on every backend for a given seed."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((num_images, latent_dim)).astype("float32")


def interpolate(z_start, z_end, steps, method="linear"):
    """``steps`` latent points from z_start to z_end, both ends included.

    ``method="linear"`` walks the straight line. ``method="spherical"`` (slerp)
    walks the arc ``sin((1-t)w)/sin(w) * a + sin(t w)/sin(w) * b``, with w
    the angle between a and b; vectors (anti)parallel within 1e-6 have no
    arc (sin w = 0) and get the straight line.

    Why slerp: a 100-D z ~ N(0, I) almost surely has norm close to
    sqrt(100) = 10, so G only ever sees a thin shell. The midpoint of the line
    between two samples has norm about 10/sqrt(2) ~ 7.1, well inside that
    shell, where G never trained; the arc keeps the norm near 10 (exactly,
    when both ends have the same norm).
    """
    if method not in ("linear", "spherical"):
        raise ValueError(f"method must be 'linear' or 'spherical', got {method!r}.")
    if method == "spherical":
        a, b = np.asarray(z_start, dtype="float64"), np.asarray(z_end, dtype="float64")
        if a.ndim != 1 or a.shape != b.shape:
            raise ValueError(
                f"spherical interpolation needs two 1-D vectors of the same length, got shapes "
                f"{a.shape} and {b.shape}; pass single latent vectors such as z[0] and z[1]."
            )
        norms = np.linalg.norm(a) * np.linalg.norm(b)
        # A zero vector has no direction: treat it like the parallel case.
        cosine = float(np.clip(a @ b / norms, -1.0, 1.0)) if norms > 0 else 1.0
        if 1.0 - abs(cosine) < 1e-6:
            method = "linear"
    if method == "linear":
        weights = np.linspace(0.0, 1.0, steps, dtype="float32")[:, None]
        return (1.0 - weights) * z_start[None] + weights * z_end[None]
    angle = np.arccos(cosine)
    t = np.linspace(0.0, 1.0, steps)[:, None]
    # Coefficients first: at t=0 and t=1 they are exactly 1 and 0, so the
    # ends come back bit for bit.
    path = np.sin((1.0 - t) * angle) / np.sin(angle) * a + np.sin(t * angle) / np.sin(angle) * b
    return path.astype(np.result_type(np.float32, z_start, z_end))


def sample(generator, num_images=None, seed=None, z=None, batch_size=256):
    """Images in [-1, 1] as float32 numpy, from ``generator`` in inference mode (BatchNorm's moving averages).

    Give ``num_images`` and a ``seed`` (z ~ N(0, I) from ``latent_noise``), or
    your own ``z``. ``batch_size`` latent vectors go through at a time.
    """
    if z is None:
        if num_images is None:
            raise ValueError("sample() needs num_images (with a seed) or z.")
        z = latent_noise(num_images, int(generator.input_shape[-1]), seed)
    return predict(generator, z, batch_size)
