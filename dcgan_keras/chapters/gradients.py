"""Gradients on any backend, for the notebooks' probes: with respect to inputs, or to a model's weights.

``gradients`` is built like ``DCGAN``'s three training steps: a ``GradientTape``,
``jax.grad`` and ``torch.autograd``. Notebooks 01-03 use it for saliency maps,
the transposed convolution as a gradient, and dead-unit counts.
"""

import keras
import numpy as np
from keras import ops


def gradients(function, *arrays):
    """The gradient of ``function(*arrays)`` (a scalar) with respect to each argument, as numpy.

    Each argument is an array or a list of arrays; the result has the same
    structure (one argument: its gradient alone). Arguments that ``function``
    does not use get zeros. ``function`` runs inside a ``keras.StatelessScope``,
    so layers it calls in training mode update no BatchNorm statistics.
    """
    tensors = keras.tree.map_structure(lambda a: ops.convert_to_tensor(_float32(a)), list(arrays))
    backend = keras.backend.backend()
    if backend not in _GRADIENTS:
        raise NotImplementedError(f"gradients() supports tensorflow, jax and torch, not {backend!r}.")
    grads = _GRADIENTS[backend](_stateless(function), tensors)
    result = keras.tree.map_structure(
        lambda grad, tensor: np.zeros(tuple(tensor.shape), "float32") if grad is None else ops.convert_to_numpy(grad),
        grads, tensors,
    )
    return result[0] if len(arrays) == 1 else result


def weight_gradients(model, loss, inputs, training=True):
    """``{variable path: d loss(model(inputs)) / d variable}`` for every trainable variable.

    ``loss`` maps the model's outputs to a scalar. The model runs through
    ``stateless_call`` on copies of its weights, so nothing is updated.
    """
    variables = model.trainable_variables
    non_trainable = [variable.value for variable in model.non_trainable_variables]

    def objective(trainable):
        outputs, _ = model.stateless_call(trainable, non_trainable, inputs, training=training)
        return loss(outputs)

    grads = gradients(objective, [variable.value for variable in variables])
    return {variable.path: grad for variable, grad in zip(variables, grads)}


def _float32(array):
    # convert_to_numpy first: a torch tensor that requires grad refuses np.asarray.
    return np.asarray(ops.convert_to_numpy(array), "float32")


def _stateless(function):
    def run(*tensors):
        with keras.StatelessScope():
            return ops.cast(function(*tensors), "float32")

    return run


def _tensorflow_gradients(function, tensors):
    import tensorflow as tf

    with tf.GradientTape() as tape:
        tape.watch(tensors)
        value = function(*tensors)
    return tape.gradient(value, tensors)


def _jax_gradients(function, tensors):
    import jax

    return list(jax.grad(function, argnums=tuple(range(len(tensors))))(*tensors))


def _torch_gradients(function, tensors):
    import torch

    tensors = keras.tree.map_structure(lambda t: t.detach().requires_grad_(True), tensors)
    value = function(*tensors)
    flat = torch.autograd.grad(value, keras.tree.flatten(tensors), allow_unused=True)
    return keras.tree.pack_sequence_as(tensors, list(flat))


_GRADIENTS = {"tensorflow": _tensorflow_gradients, "jax": _jax_gradients, "torch": _torch_gradients}
