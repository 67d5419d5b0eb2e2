"""The classic sine-wave tutorial: predict the next value of a sine wave from the previous ones
with a SimpleRNN, written as a Keras 3 user writes it with `import rnnkit as keras`.

Windows of `time_steps` values predict the next value; SimpleRNN(50) + Dense(1), mean squared
error, Adam; then a forecast that feeds each prediction back as the newest input, plotted against
the true wave. Written for rnnkit in our own words.

    KERAS_TUTORIAL_QUICK=1 python examples/keras_tutorials/sine_wave.py
"""
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import rnnkit as keras  # noqa: E402
from rnnkit import layers  # noqa: E402

QUICK = bool(os.environ.get("KERAS_TUTORIAL_QUICK"))
OUT = Path(os.environ.get("KERAS_TUTORIAL_OUT", "."))

t = np.linspace(0, 100, 1000)
wave = np.sin(t)
time_steps = 20
x = np.array([wave[i:i + time_steps] for i in range(len(wave) - time_steps)])[..., np.newaxis]
y = wave[time_steps:]
split = int(0.8 * len(x))
x_train, y_train, x_test, y_test = x[:split], y[:split], x[split:], y[split:]

model = keras.Sequential([
    layers.SimpleRNN(50, activation="tanh", input_shape=(time_steps, 1)),
    layers.Dense(1),
])
model.compile(optimizer="adam", loss="mse")
model.summary()
history = model.fit(x_train, y_train, epochs=2 if QUICK else 20, batch_size=16 if QUICK else 1,
                    validation_data=(x_test, y_test))
print("test mse:", model.evaluate(x_test, y_test))

# Forecast: each prediction becomes the newest value of the next window.
window = x_test[0]
forecast = []
for _ in range(100):
    next_value = model.predict(window[np.newaxis], verbose=0)[0, 0]
    forecast.append(next_value)
    window = np.concatenate([window[1:], [[next_value]]])

plt.plot(y_test[:100], label="sine")
plt.plot(forecast, label="forecast")
plt.legend()
plt.savefig(OUT / "sine_forecast.png")
plt.close()
print("forecast mean abs error over 100 steps:", float(np.mean(np.abs(np.array(forecast) - y_test[:100]))))
