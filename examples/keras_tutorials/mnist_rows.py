"""MNIST digits read row by row by an LSTM (the classic "MNIST with an RNN" tutorial), written as
a Keras 3 user writes it with `import rnnkit as keras`.

Each 28x28 image is a sequence of 28 rows of 28 pixels: LSTM(128) + Dense(10, softmax), sparse
categorical cross-entropy, Adam, then the predicted digit of a few test images. The download of
keras.datasets.mnist is replaced by the local MNIST test set in ../shared/data/mnist (10,000
images, split here into training and test parts). Written for rnnkit in our own words.

    KERAS_TUTORIAL_QUICK=1 python examples/keras_tutorials/mnist_rows.py
"""
import gzip
import os
from pathlib import Path

import numpy as np

import rnnkit as keras
from rnnkit import layers

QUICK = bool(os.environ.get("KERAS_TUTORIAL_QUICK"))
DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "mnist"


def load_idx(name, offset):
    with gzip.open(DATA / name) as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)


images = load_idx("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28)
labels = load_idx("t10k-labels-idx1-ubyte.gz", 8)
count = 1000 if QUICK else len(images)
(x_train, y_train), (x_test, y_test) = ((images[:count * 4 // 5], labels[:count * 4 // 5]),
                                        (images[count * 4 // 5:count], labels[count * 4 // 5:count]))
x_train, x_test = x_train / 255.0, x_test / 255.0
print(x_train.shape, "train samples;", x_test.shape, "test samples")

model = keras.Sequential([
    keras.Input(shape=(28, 28)),
    layers.LSTM(128),
    layers.Dense(10, activation="softmax"),
])
model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
model.summary()
model.fit(x_train, y_train, batch_size=128, epochs=2 if QUICK else 5, validation_split=0.1)
score = model.evaluate(x_test, y_test, verbose=0)
print("Test loss:", score[0])
print("Test accuracy:", score[1])
print("predicted:", np.argmax(model.predict(x_test[:10]), axis=1), "true:", y_test[:10])
