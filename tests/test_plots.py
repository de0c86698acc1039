import numpy as np

from forecastlab.plots import forecast_figure, loss_figure


def test_loss_figure_draws_each_history_series_per_epoch():
    figure = loss_figure({"loss": [3.0, 2.0, 1.0], "val_loss": [4.0, 2.5, 2.0]}, "sine/w2/rnn1")
    ax = figure.axes[0]
    assert [line.get_label() for line in ax.lines] == ["loss", "val_loss"]
    np.testing.assert_array_equal(ax.lines[1].get_xdata(), [1, 2, 3])
    assert ax.get_yscale() == "log" and ax.get_title() == "sine/w2/rnn1"


def test_forecast_figure_draws_truth_and_each_mode_up_to_the_limit():
    truth = np.arange(150.0)
    figure = forecast_figure(truth, {"stateless": truth + 1, "stateful": truth - 1}, "t", upto=100)
    lines = figure.axes[0].lines
    assert [line.get_label() for line in lines] == ["truth", "stateless", "stateful"]
    assert all(len(line.get_ydata()) == 100 for line in lines)
    np.testing.assert_array_equal(lines[1].get_ydata(), truth[:100] + 1)
