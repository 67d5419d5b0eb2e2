"""The TensorFlow tutorial "Text generation with an RNN" (tensorflow.org/text/tutorials/
text_generation), written as a Keras 3 user writes it with `import rnnkit as keras`.

Follows the tutorial's steps and API calls: characters to ids and back with two StringLookup
layers (one with invert=True), input/target windows shifted by one character, a subclassed
Model (Embedding, GRU with return_sequences and return_state, Dense) whose call takes and returns
the GRU state, SparseCategoricalCrossentropy(from_logits=True), and a OneStep model that samples
one character at a time while masking "[UNK]". tf.strings / tf.data steps are NumPy here, and
the Shakespeare download is the local copy in ../shared/data; written for rnnkit in our own
words, not a copy of the tutorial. Under Keras 3 this code needs TensorFlow installed: Keras's
StringLookup is backed by tf.data (rnnkit's is not).

    KERAS_TUTORIAL_QUICK=1 python examples/keras_tutorials/text_generation.py
"""
import os
import time
from pathlib import Path

import numpy as np

import rnnkit as keras
from rnnkit import ops

QUICK = bool(os.environ.get("KERAS_TUTORIAL_QUICK"))
DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "tinyshakespeare.txt"

text = DATA.read_text(encoding="utf-8")[: 10_000 if QUICK else None]
print(f"Length of text: {len(text)} characters")
vocab = sorted(set(text))
print(f"{len(vocab)} unique characters")

# --- Characters to ids, and back -------------------------------------------------------------------
ids_from_chars = keras.layers.StringLookup(vocabulary=list(vocab), mask_token=None)
chars_from_ids = keras.layers.StringLookup(vocabulary=ids_from_chars.get_vocabulary(), invert=True,
                                           mask_token=None)


def text_from_ids(ids):
    return "".join(chars_from_ids(ids).reshape(-1).tolist())


all_ids = ids_from_chars(np.array(list(text))).numpy()

# --- Windows of seq_length + 1 characters: the input, and the same shifted by one -------------------
seq_length = 100
sequences = all_ids[: len(all_ids) // (seq_length + 1) * (seq_length + 1)].reshape(-1, seq_length + 1)


def split_input_target(sequence):
    return sequence[:, :-1], sequence[:, 1:]


input_ids, target_ids = split_input_target(sequences)
print("Input :", text_from_ids(input_ids[0][:40]))
print("Target:", text_from_ids(target_ids[0][:40]))
BATCH_SIZE = 64

# --- The model --------------------------------------------------------------------------------------
vocab_size = len(ids_from_chars.get_vocabulary())
embedding_dim = 32 if QUICK else 256
rnn_units = 64 if QUICK else 1024


class MyModel(keras.Model):
    def __init__(self, vocab_size, embedding_dim, rnn_units):
        super().__init__()
        self.embedding = keras.layers.Embedding(vocab_size, embedding_dim)
        self.gru = keras.layers.GRU(rnn_units, return_sequences=True, return_state=True)
        self.dense = keras.layers.Dense(vocab_size)

    def call(self, inputs, states=None, return_state=False, training=False):
        x = inputs
        x = self.embedding(x, training=training)
        x, states = self.gru(x, initial_state=states, training=training)
        x = self.dense(x, training=training)
        if return_state:
            return x, states
        return x


model = MyModel(vocab_size=vocab_size, embedding_dim=embedding_dim, rnn_units=rnn_units)
example_batch_predictions = model(input_ids[:BATCH_SIZE])
print(example_batch_predictions.shape, "# (batch_size, sequence_length, vocab_size)")
model.summary()

sampled_indices = keras.random.categorical(example_batch_predictions[0], num_samples=1)
sampled_indices = ops.squeeze(sampled_indices, axis=-1).numpy()
print("Next Char Predictions (untrained):", text_from_ids(sampled_indices)[:60])

loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
example_batch_mean_loss = loss(target_ids[:BATCH_SIZE], example_batch_predictions)
print("Mean loss:", float(example_batch_mean_loss), " (about log(vocab_size) =", np.log(vocab_size), ")")

model.compile(optimizer="adam", loss=loss)
EPOCHS = 1 if QUICK else 20
history = model.fit(input_ids, target_ids, batch_size=BATCH_SIZE, epochs=EPOCHS, shuffle=True)


# --- Generating one character at a time ----------------------------------------------------------------
class OneStep(keras.Model):
    def __init__(self, model, chars_from_ids, ids_from_chars, temperature=1.0):
        super().__init__()
        self.temperature = temperature
        self.model = model
        self.chars_from_ids = chars_from_ids
        self.ids_from_chars = ids_from_chars
        # -inf on "[UNK]": it is never generated.
        skip_ids = ids_from_chars(np.array(["[UNK]"])).numpy()
        mask = np.zeros(len(ids_from_chars.get_vocabulary()), dtype="float32")
        mask[skip_ids] = -np.inf
        self.prediction_mask = ops.convert_to_tensor(mask)

    def generate_one_step(self, inputs, states=None):
        input_chars = np.array([list(s) for s in inputs])
        input_ids = self.ids_from_chars(input_chars)
        predicted_logits, states = self.model(inputs=input_ids, states=states, return_state=True)
        predicted_logits = predicted_logits[:, -1, :]
        predicted_logits = predicted_logits / self.temperature
        predicted_logits = predicted_logits + self.prediction_mask
        predicted_ids = keras.random.categorical(predicted_logits, num_samples=1)
        predicted_ids = ops.squeeze(predicted_ids, axis=-1)
        predicted_chars = self.chars_from_ids(predicted_ids)
        return predicted_chars, states


one_step_model = OneStep(model, chars_from_ids, ids_from_chars)
start = time.time()
states = None
next_char = np.array(["ROMEO:"])
result = [next_char]
for n in range(100 if QUICK else 1000):
    next_char, states = one_step_model.generate_one_step(next_char, states=states)
    result.append(next_char)
result = "".join(str(part[0]) for part in result)
print(result, "\n\n" + "_" * 80)
print("\nRun time:", time.time() - start)
