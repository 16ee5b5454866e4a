"""Entry point for ``python -m dcgan_keras`` and the ``dcgan-keras`` console script."""

from dcgan_keras.console import import_tensorflow_quietly

# Before Keras is imported: TensorFlow's C++ start-up lines are dropped from the command's output.
import_tensorflow_quietly()

from dcgan_keras.cli import main  # noqa: E402

if __name__ == "__main__":
    main()
