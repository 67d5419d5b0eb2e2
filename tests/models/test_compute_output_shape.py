"""`compute_output_shape()` on models, as on layers: the shapes Keras 3 gives for the same models."""
import rnnkit
from rnnkit import layers


def test_sequential_without_input_gives_keras_shape_for_any_input_shape():
    model = rnnkit.Sequential([layers.LSTM(4, return_sequences=True), layers.Dense(2)])
    assert model.compute_output_shape((None, 5, 3)) == (None, 5, 2)


def test_functional_model_with_two_outputs_gives_one_shape_per_output_as_keras():
    x = rnnkit.Input((None, 3))
    model = rnnkit.Model(x, [layers.LSTM(4)(x), layers.GRU(2, return_sequences=True)(x)])
    assert model.compute_output_shape((7, 5, 3)) == [(7, 4), (7, 5, 2)]


def test_subclassed_model_infers_its_output_shape_from_its_call():
    # Keras raises NotImplementedError here unless the subclass defines compute_output_shape.
    class Tagger(rnnkit.Model):
        def __init__(self):
            super().__init__()
            self.lstm = layers.LSTM(4, return_sequences=True)
            self.dense = layers.Dense(2)

        def call(self, inputs):
            return self.dense(self.lstm(inputs))

    assert Tagger().compute_output_shape((None, 5, 3)) == (None, 5, 2)
