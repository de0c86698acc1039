"""forecastlab: reproducible Keras RNN forecasting experiments."""

from forecastlab.numerics import pin_environment

__version__ = "0.1.0"

# Before anything imports TensorFlow: every process that uses the library computes with
# the same kernels, whatever machine it runs on (see forecastlab.numerics).
pin_environment()
