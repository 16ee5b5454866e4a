"""Running a model the same way on TensorFlow, JAX and PyTorch, without changing it.

- ``stateless_outputs``: a model's outputs without touching its variables, so
  BatchNorm in training mode normalises with the batch's own statistics but
  never updates its moving averages;
- ``predict``: that, in chunks, collected as numpy. Sampling, the evaluators
  and the notebooks all run models through it, so none of them needs to know
  which backend runs.
"""

import keras
import numpy as np
from keras import ops


def stateless_outputs(model, inputs, training=False):
    """``model(inputs, training=training)`` as tensors, leaving every variable as it was."""
    trainable = [variable.value for variable in model.trainable_variables]
    non_trainable = [variable.value for variable in model.non_trainable_variables]
    outputs, _ = model.stateless_call(trainable, non_trainable, inputs, training=training)
    return outputs


def predict(model, inputs, batch_size=256, training=False, transform=None):
    """The model's outputs on ``inputs`` as float32 numpy (a list for several outputs).

    Runs ``batch_size`` inputs at a time (``transform``, if given, is applied
    to each chunk first, e.g. a resize too large for the whole set at once).
    With ``training=True`` BatchNorm uses batch statistics, so the whole input
    is one batch: chunks would each be normalised by their own statistics.
    Nothing about the model changes.
    """
    inputs = np.asarray(inputs)
    step = len(inputs) if training else batch_size
    chunks = []
    for start in range(0, len(inputs), max(step, 1)):
        chunk = inputs[start : start + step]
        outputs = stateless_outputs(model, chunk if transform is None else transform(chunk), training)
        chunks.append([ops.convert_to_numpy(ops.cast(t, "float32")) for t in keras.tree.flatten(outputs)])
    merged = [np.concatenate(parts) for parts in zip(*chunks)]
    return merged[0] if len(merged) == 1 else merged
