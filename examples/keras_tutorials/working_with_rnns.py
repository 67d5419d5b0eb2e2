"""The Keras guide "Working with RNNs" (keras.io/guides/working_with_rnns), section by section,
written as a Keras 3 user writes it with `import rnnkit as keras`.

Follows the guide's sections and API calls: built-in layers and summaries, outputs and states,
an encoder-decoder passing LSTM states, cross-batch statefulness and state reuse, Bidirectional,
the cuDNN section (LSTM versus RNN(LSTMCell) sharing weights), and a custom cell with nested
inputs trained with fit. Written for rnnkit in our own words (not a copy of the guide's text);
where the guide calls TensorFlow (tf.nest, tf.einsum, tf.TensorShape, tf.device) it uses
keras.ops and plain shapes. MNIST is replaced by random images of the same shape (no download).

With its imports swapped back, the sections up to the nested cell run under Keras 3 too; the
NestedCell section fails in Keras 3 itself (IndexError in the cell's build: Keras's RNN builds it with
the first input's shape alone; keras-team/keras-io issue #2142), and runs here as written.

    KERAS_TUTORIAL_QUICK=1 python examples/keras_tutorials/working_with_rnns.py
"""
import os

import numpy as np

import rnnkit as keras
from rnnkit import layers, ops

QUICK = bool(os.environ.get("KERAS_TUTORIAL_QUICK"))

# --- Built-in RNN layers: Embedding -> LSTM -> Dense ----------------------------------------------
model = keras.Sequential()
model.add(layers.Embedding(input_dim=1000, output_dim=64))
model.add(layers.LSTM(128))
model.add(layers.Dense(10))
model.build((None, None))
model.summary()

# --- Outputs and states: a GRU returning sequences feeds a SimpleRNN --------------------------------
model = keras.Sequential()
model.add(layers.Embedding(input_dim=1000, output_dim=64))
model.add(layers.GRU(256, return_sequences=True))  # (batch, timesteps, 256)
model.add(layers.SimpleRNN(128))  # (batch, 128)
model.add(layers.Dense(10))
model.build((None, None))
model.summary()

# --- An encoder's final LSTM states start the decoder -----------------------------------------------
encoder_vocab, decoder_vocab = 1000, 2000
encoder_input = layers.Input(shape=(None,))
encoder_embedded = layers.Embedding(input_dim=encoder_vocab, output_dim=64)(encoder_input)
output, state_h, state_c = layers.LSTM(64, return_state=True, name="encoder")(encoder_embedded)
encoder_state = [state_h, state_c]
decoder_input = layers.Input(shape=(None,))
decoder_embedded = layers.Embedding(input_dim=decoder_vocab, output_dim=64)(decoder_input)
decoder_output = layers.LSTM(64, name="decoder")(decoder_embedded, initial_state=encoder_state)
output = layers.Dense(10)(decoder_output)
model = keras.Model([encoder_input, decoder_input], output)
model.summary()

# --- Cross-batch statefulness: three paragraphs through one stateful LSTM ---------------------------
paragraph1, paragraph2, paragraph3 = (np.random.random((20, 10, 50)).astype(np.float32) for _ in range(3))
lstm_layer = layers.LSTM(64, stateful=True)
output = lstm_layer(paragraph1)
output = lstm_layer(paragraph2)
output = lstm_layer(paragraph3)
lstm_layer.reset_states()  # back to zero states

# --- Reusing the states of one layer as the initial state of another --------------------------------
lstm_layer = layers.LSTM(64, stateful=True)
output = lstm_layer(paragraph1)
output = lstm_layer(paragraph2)
existing_state = lstm_layer.states
new_lstm_layer = layers.LSTM(64)
new_output = new_lstm_layer(paragraph3, initial_state=existing_state)

# --- Bidirectional RNNs ------------------------------------------------------------------------------
model = keras.Sequential()
model.add(layers.Bidirectional(layers.LSTM(64, return_sequences=True), input_shape=(5, 10)))
model.add(layers.Bidirectional(layers.LSTM(32)))
model.add(layers.Dense(10))
model.summary()

# --- cuDNN section: LSTM(units) versus RNN(LSTMCell(units)), the same weights ----------------------
batch_size = 64
input_dim = 28
units = 64
output_size = 10


def build_model(allow_cudnn_kernel=True):
    if allow_cudnn_kernel:
        lstm_layer = keras.layers.LSTM(units, input_shape=(None, input_dim))
    else:
        lstm_layer = keras.layers.RNN(keras.layers.LSTMCell(units), input_shape=(None, input_dim))
    return keras.models.Sequential([lstm_layer, keras.layers.BatchNormalization(), keras.layers.Dense(output_size)])


samples = 128 if QUICK else 6000
x_train = np.random.default_rng(0).integers(0, 256, (samples, 28, 28)) / 255.0  # stands in for MNIST
y_train = np.random.default_rng(1).integers(0, 10, samples)
x_test, y_test = x_train[: samples // 4], y_train[: samples // 4]
sample, sample_label = x_train[0], y_train[0]

model = build_model(allow_cudnn_kernel=True)
model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), optimizer="sgd",
              metrics=["accuracy"])
model.fit(x_train, y_train, validation_data=(x_test, y_test), batch_size=batch_size, epochs=1)

noncudnn_model = build_model(allow_cudnn_kernel=False)
noncudnn_model.set_weights(model.get_weights())
noncudnn_model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), optimizer="sgd",
                       metrics=["accuracy"])
noncudnn_model.fit(x_train, y_train, validation_data=(x_test, y_test), batch_size=batch_size, epochs=1)

cpu_model = build_model(allow_cudnn_kernel=True)
cpu_model.set_weights(model.get_weights())
result = ops.argmax(cpu_model.predict_on_batch(ops.expand_dims(sample, 0)), axis=1)
print(f"Predicted result is: {result.numpy()}, target result is: {sample_label}")


# --- A custom cell with nested inputs and states ---------------------------------------------------
@keras.saving.register_keras_serializable()
class NestedCell(keras.layers.Layer):
    def __init__(self, unit_1, unit_2, unit_3, **kwargs):
        self.unit_1 = unit_1
        self.unit_2 = unit_2
        self.unit_3 = unit_3
        self.state_size = [(unit_1,), (unit_2, unit_3)]
        self.output_size = [(unit_1,), (unit_2, unit_3)]
        super().__init__(**kwargs)

    def build(self, input_shapes):
        # two inputs per step: (batch, i1) and (batch, i2, i3)
        i1 = input_shapes[0][1]
        i2 = input_shapes[1][1]
        i3 = input_shapes[1][2]
        self.kernel_1 = self.add_weight(shape=(i1, self.unit_1), initializer="uniform", name="kernel_1")
        self.kernel_2_3 = self.add_weight(shape=(i2, i3, self.unit_2, self.unit_3), initializer="uniform",
                                          name="kernel_2_3")

    def call(self, inputs, states):
        input_1, input_2 = inputs
        s1, s2 = states
        output_1 = ops.matmul(input_1, self.kernel_1)
        output_2_3 = ops.einsum("bij,ijkl->bkl", input_2, self.kernel_2_3)
        state_1 = s1 + output_1
        state_2_3 = s2 + output_2_3
        return (output_1, output_2_3), (state_1, state_2_3)

    def get_config(self):
        return {"unit_1": self.unit_1, "unit_2": self.unit_2, "unit_3": self.unit_3}


unit_1, unit_2, unit_3 = 10, 20, 30
i1, i2, i3 = 32, 64, 32
batch_size = 64
num_batches = 1 if QUICK else 10
timestep = 5 if QUICK else 50

cell = NestedCell(unit_1, unit_2, unit_3)
rnn = keras.layers.RNN(cell)
input_1 = keras.Input((None, i1))
input_2 = keras.Input((None, i2, i3))
outputs = rnn((input_1, input_2))
model = keras.models.Model([input_1, input_2], outputs)
model.compile(optimizer="adam", loss="mse", metrics=["accuracy"])

input_1_data = np.random.random((batch_size * num_batches, timestep, i1))
input_2_data = np.random.random((batch_size * num_batches, timestep, i2, i3))
target_1_data = np.random.random((batch_size * num_batches, unit_1))
target_2_data = np.random.random((batch_size * num_batches, unit_2, unit_3))
history = model.fit([input_1_data, input_2_data], [target_1_data, target_2_data], batch_size=batch_size)
print("nested cell trained, final loss", history.history["loss"][-1])
