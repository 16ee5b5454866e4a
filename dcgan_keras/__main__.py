"""Entry point for ``python -m dcgan_keras``."""

from dcgan_keras.cli import main

if __name__ == "__main__":
    main()
