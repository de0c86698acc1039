"""forecastlab: reproducible Keras RNN forecasting experiments."""

__version__ = "0.1.0"
