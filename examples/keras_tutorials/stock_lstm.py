"""The classic stock-price LSTM tutorial (Google's opening price from the previous 60 days),
written as a Keras 3 user writes it with `import rnnkit as keras`.

MinMax-scaled opening prices, windows of 60 days, four stacked LSTM(50) layers with Dropout(0.2),
Dense(1), Adam and mean squared error; the test month's windows reach back into the training
data; predictions are scaled back and plotted against the real prices. The data are the local
google_stock_train.csv / google_stock_test.csv in ../shared/data; the tutorial's scikit-learn
MinMaxScaler is two lines of NumPy here. Written for rnnkit in our own words.

    KERAS_TUTORIAL_QUICK=1 python examples/keras_tutorials/stock_lstm.py
"""
import csv
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import rnnkit as keras  # noqa: E402
from rnnkit import layers  # noqa: E402

QUICK = bool(os.environ.get("KERAS_TUTORIAL_QUICK"))
DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
OUT = Path(os.environ.get("KERAS_TUTORIAL_OUT", "."))


def opening_prices(name):
    with open(DATA / name, newline="") as f:
        return np.array([float(row["Open"]) for row in csv.DictReader(f)])


training_set = opening_prices("google_stock_train.csv")
test_set = opening_prices("google_stock_test.csv")
low, high = training_set.min(), training_set.max()
scaled = (training_set - low) / (high - low)

window = 60
x_train = np.array([scaled[i - window:i] for i in range(window, len(scaled))])[..., np.newaxis]
y_train = scaled[window:]
if QUICK:
    x_train, y_train = x_train[-128:], y_train[-128:]

regressor = keras.Sequential()
regressor.add(layers.LSTM(units=50, return_sequences=True, input_shape=(x_train.shape[1], 1)))
regressor.add(layers.Dropout(0.2))
regressor.add(layers.LSTM(units=50, return_sequences=True))
regressor.add(layers.Dropout(0.2))
regressor.add(layers.LSTM(units=50, return_sequences=True))
regressor.add(layers.Dropout(0.2))
regressor.add(layers.LSTM(units=50))
regressor.add(layers.Dropout(0.2))
regressor.add(layers.Dense(units=1))
regressor.compile(optimizer="adam", loss="mean_squared_error")
regressor.fit(x_train, y_train, epochs=1 if QUICK else 100, batch_size=32)

# The test month's windows: the last 60 training days, then the test days.
inputs = (np.concatenate([training_set, test_set])[len(training_set) - window:] - low) / (high - low)
x_test = np.array([inputs[i - window:i] for i in range(window, len(inputs))])[..., np.newaxis]
predicted_stock_price = regressor.predict(x_test) * (high - low) + low
rmse = float(np.sqrt(np.mean((predicted_stock_price[:, 0] - test_set) ** 2)))
print(f"test RMSE: {rmse:.2f}")

plt.plot(test_set, color="red", label="Real Google Stock Price")
plt.plot(predicted_stock_price, color="blue", label="Predicted Google Stock Price")
plt.title("Google Stock Price Prediction")
plt.xlabel("Time")
plt.ylabel("Google Stock Price")
plt.legend()
plt.savefig(OUT / "stock_prediction.png")
plt.close()
