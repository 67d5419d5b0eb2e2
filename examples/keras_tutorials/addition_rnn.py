"""The Keras example "Sequence to sequence learning for performing number addition"
(keras.io/examples/nlp/addition_rnn), written as a Keras 3 user writes it with
`import rnnkit as keras`.

Follows the example's steps and API calls: "123+45"-style questions one-hot encoded by a
character table (inputs reversed), an LSTM encoder, RepeatVector, an LSTM decoder returning
sequences and a softmax Dense per step, categorical cross-entropy, and a training loop that
prints a few decoded predictions. Written for rnnkit in our own words, not a copy of the example.

    KERAS_TUTORIAL_QUICK=1 python examples/keras_tutorials/addition_rnn.py
"""
import os

import numpy as np

import rnnkit as keras
from rnnkit import layers

QUICK = bool(os.environ.get("KERAS_TUTORIAL_QUICK"))
TRAINING_SIZE = 320 if QUICK else 50000
DIGITS = 3
REVERSE = True
MAXLEN = DIGITS + 1 + DIGITS  # "123+456"


class CharacterTable:
    """One-hot encoding of strings over a fixed alphabet, and decoding of probabilities back."""

    def __init__(self, chars):
        self.chars = sorted(set(chars))
        self.char_indices = {c: i for i, c in enumerate(self.chars)}
        self.indices_char = dict(enumerate(self.chars))

    def encode(self, text, num_rows):
        x = np.zeros((num_rows, len(self.chars)))
        for i, c in enumerate(text):
            x[i, self.char_indices[c]] = 1
        return x

    def decode(self, x, calc_argmax=True):
        if calc_argmax:
            x = x.argmax(axis=-1)
        return "".join(self.indices_char[i] for i in x)


chars = "0123456789+ "
ctable = CharacterTable(chars)

questions, expected, seen = [], [], set()
rng = np.random.default_rng(0)
print("Generating data...")
while len(questions) < TRAINING_SIZE:
    a, b = (int("".join(rng.choice(list("0123456789"), size=rng.integers(1, DIGITS + 1)))) for _ in range(2))
    key = tuple(sorted((a, b)))
    if key in seen:
        continue
    seen.add(key)
    query = f"{a}+{b}".ljust(MAXLEN)
    answer = str(a + b).ljust(DIGITS + 1)
    if REVERSE:
        query = query[::-1]  # reversed inputs put the digits that matter first close to the answer
    questions.append(query)
    expected.append(answer)
print("Total questions:", len(questions))

x = np.zeros((len(questions), MAXLEN, len(chars)), dtype=bool)
y = np.zeros((len(questions), DIGITS + 1, len(chars)), dtype=bool)
for i, sentence in enumerate(questions):
    x[i] = ctable.encode(sentence, MAXLEN)
for i, sentence in enumerate(expected):
    y[i] = ctable.encode(sentence, DIGITS + 1)

indices = np.arange(len(y))
rng.shuffle(indices)
x, y = x[indices], y[indices]
split_at = len(x) - len(x) // 10
(x_train, x_val), (y_train, y_val) = (x[:split_at], x[split_at:]), (y[:split_at], y[split_at:])
print("Training Data:", x_train.shape, y_train.shape)
print("Validation Data:", x_val.shape, y_val.shape)

num_layers = 1
model = keras.Sequential()
model.add(layers.Input((MAXLEN, len(chars))))
model.add(layers.LSTM(128))
model.add(layers.RepeatVector(DIGITS + 1))
for _ in range(num_layers):
    model.add(layers.LSTM(128, return_sequences=True))
model.add(layers.Dense(len(chars), activation="softmax"))
model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
model.summary()

epochs = 2 if QUICK else 30
batch_size = 32
for epoch in range(1, epochs):
    print("\nIteration", epoch)
    model.fit(x_train, y_train, batch_size=batch_size, epochs=1, validation_data=(x_val, y_val))
    for i in range(10):
        ind = np.random.randint(0, len(x_val))
        rowx, rowy = x_val[np.array([ind])], y_val[np.array([ind])]
        preds = np.argmax(model.predict(rowx, verbose=0), axis=-1)
        q = ctable.decode(rowx[0])
        correct = ctable.decode(rowy[0])
        guess = ctable.decode(preds[0], calc_argmax=False)
        print("Q", q[::-1] if REVERSE else q, end=" ")
        print("T", correct, end=" ")
        print("☑ " + guess if correct == guess else "☒ " + guess)
