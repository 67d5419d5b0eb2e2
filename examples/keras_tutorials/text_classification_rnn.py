"""The TensorFlow tutorial "Text classification with an RNN" (tensorflow.org/text/tutorials/
text_classification_rnn), written as a Keras 3 user writes it with `import rnnkit as keras`.

Follows the tutorial's steps and API calls: a TextVectorization encoder adapted on the training
texts and placed inside the model, Embedding(mask_zero=True), Bidirectional(LSTM(64)), training
with BinaryCrossentropy(from_logits=True), predicting raw strings, the padding check, the stacked
variant, and the accuracy/loss plots. The IMDB download (tensorflow_datasets) is replaced by the
local labelled review sentences in ../shared/data/sentiment (1000 IMDB + 1000 Yelp sentences);
written for rnnkit in our own words, not a copy of the tutorial. Under Keras 3 this code needs
TensorFlow installed: Keras's TextVectorization is backed by tf.data (rnnkit's is not).

    KERAS_TUTORIAL_QUICK=1 python examples/keras_tutorials/text_classification_rnn.py
"""
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import rnnkit as keras  # noqa: E402

QUICK = bool(os.environ.get("KERAS_TUTORIAL_QUICK"))
DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "sentiment"
OUT = Path(os.environ.get("KERAS_TUTORIAL_OUT", "."))


def plot_graphs(history, metric):
    plt.plot(history.history[metric])
    plt.plot(history.history["val_" + metric], "")
    plt.xlabel("Epochs")
    plt.ylabel(metric)
    plt.legend([metric, "val_" + metric])


# --- Data: labelled sentences, shuffled, 80% for training ---------------------------------------
texts, labels = [], []
for name in ("imdb_labelled.txt", "yelp_labelled.txt"):
    for line in (DATA / name).read_text(encoding="utf-8").splitlines():
        text, _, label = line.strip().rpartition("\t")
        texts.append(text)
        labels.append(int(label))
order = np.random.default_rng(0).permutation(len(texts))[: 96 if QUICK else None]
texts, labels = np.array(texts)[order], np.array(labels)[order]
split = int(0.8 * len(texts))
train_texts, train_labels = texts[:split], labels[:split]
test_texts, test_labels = texts[split:], labels[split:]
BATCH_SIZE = 64
EPOCHS = 1 if QUICK else 10

# --- The text encoder ---------------------------------------------------------------------------------
VOCAB_SIZE = 1000
encoder = keras.layers.TextVectorization(max_tokens=VOCAB_SIZE)
encoder.adapt(train_texts)
vocab = np.array(encoder.get_vocabulary())
print(vocab[:20])
encoded_example = encoder(train_texts[:3]).numpy()
print(encoded_example)

# --- The model: encoder, embedding, bidirectional LSTM, two dense layers ---------------------------
model = keras.Sequential([
    encoder,
    keras.layers.Embedding(input_dim=len(encoder.get_vocabulary()), output_dim=64, mask_zero=True),
    keras.layers.Bidirectional(keras.layers.LSTM(64)),
    keras.layers.Dense(64, activation="relu"),
    keras.layers.Dense(1),
])
print([layer.supports_masking for layer in model.layers])

# The prediction for a text does not depend on how much padding it gets.
sample_text = "The movie was cool. The animation and the graphics were out of this world. I would recommend this movie."
predictions = model.predict(np.array([sample_text]))
print(predictions[0])
padding = "the " * 2000
predictions = model.predict(np.array([sample_text, padding]))
print(predictions[0])

model.compile(loss=keras.losses.BinaryCrossentropy(from_logits=True), optimizer=keras.optimizers.Adam(1e-3),
              metrics=["accuracy"])
history = model.fit(train_texts, train_labels, epochs=EPOCHS, batch_size=BATCH_SIZE,
                    validation_data=(test_texts, test_labels))
test_loss, test_acc = model.evaluate(test_texts, test_labels)
print("Test Loss:", test_loss)
print("Test Accuracy:", test_acc)

plt.figure(figsize=(16, 8))
plt.subplot(1, 2, 1)
plot_graphs(history, "accuracy")
plt.subplot(1, 2, 2)
plot_graphs(history, "loss")
plt.savefig(OUT / "text_classification_history.png")
plt.close()

predictions = model.predict(np.array([sample_text]))
print("prediction for the sample review:", predictions[0])

# --- Stacking two recurrent layers ---------------------------------------------------------------
model = keras.Sequential([
    encoder,
    keras.layers.Embedding(len(encoder.get_vocabulary()), 64, mask_zero=True),
    keras.layers.Bidirectional(keras.layers.LSTM(64, return_sequences=True)),
    keras.layers.Bidirectional(keras.layers.LSTM(32)),
    keras.layers.Dense(64, activation="relu"),
    keras.layers.Dropout(0.5),
    keras.layers.Dense(1),
])
model.compile(loss=keras.losses.BinaryCrossentropy(from_logits=True), optimizer=keras.optimizers.Adam(1e-3),
              metrics=["accuracy"])
history = model.fit(train_texts, train_labels, epochs=EPOCHS, batch_size=BATCH_SIZE,
                    validation_data=(test_texts, test_labels))
test_loss, test_acc = model.evaluate(test_texts, test_labels)
print("Stacked test accuracy:", test_acc)
predictions = model.predict(np.array([sample_text]))
print(predictions)
