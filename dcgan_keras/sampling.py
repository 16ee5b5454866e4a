"""Drawing from a generator: z ~ N(0, I), samples, and paths between latent points.

Everything that turns noise into pictures calls ``sample``: the sample grids,
the evaluators, ``DCGAN.generate`` and the ``sample`` command. A seed gives the
same z, and so the same images, on every backend.
"""

import numbers

import numpy as np

from dcgan_keras.compute import predict
from dcgan_keras.errors import UsageError, check_whole_number


def latent_noise(num_images, latent_dim, seed=None):
    """z ~ N(0, I) as float32 numpy of shape ``(num_images, latent_dim)``, identical on every backend for a seed.

    ``num_images`` may be 0 (an empty batch); ``seed`` is None (fresh noise) or a whole number of 0 or more.
    """
    num_images, latent_dim, rng = _noise_stream(num_images, latent_dim, seed)
    return rng.standard_normal((num_images, latent_dim)).astype("float32")


def _noise_stream(num_images, latent_dim, seed):
    """The checked arguments of ``latent_noise`` and ``latent_batches``, and the generator their z come from."""
    num_images = check_whole_number("num_images", num_images, 0, "how many latent vectors")
    latent_dim = check_whole_number("latent_dim", latent_dim, 1, "the length of each latent vector")
    return num_images, latent_dim, np.random.default_rng(_check_seed(seed))


def latent_batches(num_images, latent_dim, seed, batch_size=256):
    """``latent_noise(num_images, latent_dim, seed)`` a batch at a time, as (first index, z): the same z, in order.

    For drawing more samples than fit in memory at once (the ``sample`` command streams them).
    """
    num_images, latent_dim, rng = _noise_stream(num_images, latent_dim, seed)
    for start in range(0, num_images, batch_size):
        yield start, rng.standard_normal((min(batch_size, num_images - start), latent_dim)).astype("float32")


# The ways ``interpolate`` walks, the default first: one definition for the library and the command line.
INTERPOLATIONS = ("spherical", "linear")
DEFAULT_INTERPOLATION = INTERPOLATIONS[0]


def interpolate(z_start, z_end, steps, method=DEFAULT_INTERPOLATION):
    """``steps`` latent points from z_start to z_end, both ends included.

    ``z_start`` and ``z_end`` are two latent vectors of shape ``(latent_dim,)``,
    giving a path of shape ``(steps, latent_dim)``; or two batches of shape
    ``(batch, latent_dim)``, giving one path per row, of shape
    ``(batch, steps, latent_dim)``: ``path[i]`` runs from ``z_start[i]`` to
    ``z_end[i]`` and equals ``interpolate(z_start[i], z_end[i], steps, method)``.
    ``path.reshape(-1, latent_dim)`` lays the paths one after another, ready
    for ``sample`` and for a grid with ``columns=steps``.

    ``method="spherical"`` (slerp, the default, as in ``sample --interpolation``)
    walks the arc ``sin((1-t)w)/sin(w) * a + sin(t w)/sin(w) * b``, with w
    the angle between a and b; vectors (anti)parallel within 1e-6 have no
    arc (sin w = 0) and get the straight line. ``method="linear"`` walks the
    straight line.

    Why slerp: a 100-D z ~ N(0, I) almost surely has norm close to
    sqrt(100) = 10, so G only ever sees a thin shell. The midpoint of the line
    between two samples has norm about 10/sqrt(2) ~ 7.1, well inside that
    shell, where G never trained; the arc keeps the norm near 10 (exactly,
    when both ends have the same norm).
    """
    if method not in INTERPOLATIONS:
        raise UsageError(f"method must be 'linear' or 'spherical', got {method!r}.")
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
        raise UsageError(f"steps must be a whole number of 1 or more, got {steps!r}.")
    z_start, z_end = np.asarray(z_start), np.asarray(z_end)
    if z_start.ndim not in (1, 2) or z_start.shape != z_end.shape:
        raise UsageError(
            f"interpolate needs z_start and z_end of the same shape, (latent_dim,) or (batch, latent_dim), "
            f"got {z_start.shape} and {z_end.shape}; pass single latent vectors such as z[0] and z[1], "
            f"or batches such as z[0::2] and z[1::2]."
        )
    if z_start.ndim == 2:
        # Row by row: each path is bit for bit the one its two vectors give alone.
        paths = [_path(a, b, steps, method) for a, b in zip(z_start, z_end)]
        if not paths:
            return np.zeros((0, steps, z_start.shape[1]), np.result_type(np.float32, z_start, z_end))
        return np.stack(paths)
    return _path(z_start, z_end, steps, method)


def _path(z_start, z_end, steps, method):
    """The path between two 1-D latent vectors: ``interpolate``'s 1-D case."""
    if method == "spherical":
        a, b = z_start.astype("float64"), z_end.astype("float64")
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
    batch_size = check_whole_number("batch_size", batch_size, 1, "latent vectors per call of the generator")
    if z is None:
        if num_images is None:
            raise UsageError("sample() needs num_images (with a seed) or z.")
        z = latent_noise(num_images, int(generator.input_shape[-1]), seed)
    z = np.asarray(z)
    wanted = getattr(generator, "input_shape", None)
    if isinstance(wanted, tuple) and len(wanted) == 2 and (z.ndim != 2 or z.shape[1] != wanted[1]):
        raise UsageError(f"z must have shape (num_images, {wanted[1]}), the generator's input, got {z.shape}.")
    if num_images is not None and num_images != len(z):
        raise UsageError(f"num_images={num_images!r} but z holds {len(z)} latent vectors; pass one of the two.")
    if not len(z):  # no images: an empty batch of the generator's shape, as for any other number
        return np.zeros((0, *generator.output_shape[1:]), "float32")
    return predict(generator, z, batch_size)


def _check_seed(seed):
    if seed is None:
        return None
    return check_whole_number("seed", seed, 0, "or None for fresh noise")
