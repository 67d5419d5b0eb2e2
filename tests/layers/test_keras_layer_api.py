"""The Keras layer API every rnnkit layer offers: training=/mask= at call, compute_output_shape,
built-at-instantiation for weightless layers, and the automatic config of subclasses."""
import json

import pytest
import torch

from rnnkit import layers

SHAPE_CASES = [
    (lambda: layers.Dense(3), (None, 5, 4), (None, 5, 3)),
    (lambda: layers.Embedding(10, 4), (None, 7), (None, 7, 4)),
    (lambda: layers.Dropout(0.5), (None, 7, 3), (None, 7, 3)),
    (lambda: layers.Activation("relu"), (2, 3), (2, 3)),
    (lambda: layers.Masking(), (None, 7, 3), (None, 7, 3)),
    (lambda: layers.RepeatVector(4), (None, 3), (None, 4, 3)),
    (lambda: layers.Flatten(), (None, 7, 3), (None, 21)),
    (lambda: layers.LayerNormalization(), (None, 7, 3), (None, 7, 3)),
    (lambda: layers.BatchNormalization(), (None, 3), (None, 3)),
    (lambda: layers.Concatenate(), [(None, 7, 3), (None, 7, 2)], (None, 7, 5)),
    (lambda: layers.Add(), [(None, 3), (None, 3)], (None, 3)),
    (lambda: layers.SimpleRNN(4, return_sequences=True), (None, None, 3), (None, None, 4)),
    (lambda: layers.LSTM(4, return_state=True), (2, 5, 3), ((2, 4), (2, 4), (2, 4))),
    (lambda: layers.GRU(4, return_sequences=True, return_state=True), (2, 5, 3), ((2, 5, 4), (2, 4))),
    (lambda: layers.TimeDistributed(layers.Dense(5)), (None, 7, 3), (None, 7, 5)),
    (lambda: layers.Bidirectional(layers.LSTM(2, return_sequences=True)), (None, None, 3), (None, None, 4)),
    (lambda: layers.Bidirectional(layers.GRU(2), merge_mode=None), (3, 4, 3), ((3, 2), (3, 2))),
]


@pytest.mark.parametrize("make, input_shape, expected", SHAPE_CASES)
def test_compute_output_shape_of_every_layer(make, input_shape, expected):
    assert make().compute_output_shape(input_shape) == expected


@pytest.mark.parametrize(
    "layer, x",
    [(layers.Dense(2), torch.ones(2, 3)), (layers.Embedding(5, 2), torch.tensor([[1, 0]])),
     (layers.Activation("tanh"), torch.ones(2, 3)), (layers.RepeatVector(2), torch.ones(2, 3)),
     (layers.Flatten(), torch.ones(2, 3, 2)), (layers.LayerNormalization(), torch.ones(2, 3))],
)
def test_every_layer_accepts_training_and_mask_keywords(layer, x):
    expected = layer(x)
    torch.testing.assert_close(layer(x, training=True, mask=None), expected)
    torch.testing.assert_close(layer(x, training=False), expected)


def test_layers_without_weights_are_built_at_instantiation_and_others_are_not():
    assert layers.Masking().built and layers.Dropout(0.1).built and layers.Flatten().built
    assert not layers.Dense(2).built and not layers.LSTM(2).built


class Scaled(layers.Layer):
    def __init__(self, units, scale=2.0, options=None, **kwargs):
        super().__init__(**kwargs)
        self.units, self.scale, self.options = units, scale, options

    def call(self, inputs):
        return inputs * self.scale


def test_subclass_without_get_config_gets_its_constructor_arguments():
    layer = Scaled(3, options={"mode": ["a", 1]}, name="scaled", trainable=False)
    config = json.loads(json.dumps(layer.get_config()))
    assert config == {"units": 3, "scale": 2.0, "options": {"mode": ["a", 1]}, "name": "scaled",
                      "trainable": False, "dtype": None}
    rebuilt = Scaled.from_config(config)
    assert (rebuilt.units, rebuilt.scale, rebuilt.options, rebuilt.name, rebuilt.trainable) == (
        3, 2.0, {"mode": ["a", 1]}, "scaled", False)


def test_subclass_whose_init_takes_no_name_leaves_it_out():
    class Fixed(layers.Layer):
        def __init__(self, width):
            super().__init__()
            self.width = width

    config = Fixed(4).get_config()
    assert config["width"] == 4 and "name" not in config
    assert Fixed.from_config(config).width == 4


def test_subclass_with_non_json_arguments_raises_a_clear_error_on_get_config():
    layer = Scaled(torch.ones(2))
    with pytest.raises(NotImplementedError, match=r"Scaled.*not plain JSON values.*define get_config\(\)"):
        layer.get_config()


def test_subclass_with_its_own_get_config_keeps_it():
    class Own(Scaled):
        def get_config(self):
            return {**super().get_config(), "units": self.units}

    assert Own(torch.ones(1)).get_config()["units"].shape == (1,)


@pytest.mark.parametrize("make, message", [
    (lambda: layers.LSTM(10**30), r"^LSTM 'lstm\w*': units is too large: it makes a weight of shape \(10{30}, 10{30}\)"),
    (lambda: layers.SimpleRNN(2**31), r"^SimpleRNN 'simple_rnn\w*': units is too large"),
    (lambda: layers.GRUCell(2**40), r"^GRUCell 'gru_cell\w*': units is too large"),
    (lambda: layers.Dense(10**30), r"^Dense 'dense\w*': units is too large"),
    (lambda: layers.Embedding(10**30, 2), r"^Embedding 'embedding\w*': `input_dim` x `output_dim` is too large"),
], ids=["LSTM", "SimpleRNN", "GRUCell", "Dense", "Embedding"])
def test_a_size_no_machine_can_hold_is_refused_at_construction_naming_layer_and_argument(make, message):
    with pytest.raises(ValueError, match=message + r".*over 2\*\*63 - 1 bytes, which no machine can hold\.$"):
        make()


def test_big_sizes_a_machine_could_hold_are_accepted_until_built():
    assert layers.SimpleRNN(2**31 - 1).units == 2**31 - 1
    assert layers.Dense(2**40).units == 2**40 and layers.Embedding(2**33, 2).input_dim == 2**33


def test_a_weight_too_large_for_its_input_is_refused_at_build_naming_the_layer_and_weight():
    with pytest.raises(ValueError, match=r"^Dense 'big': weight 'kernel' is too large: it makes a weight of shape "
                                         r"\(8, 2305843009213693952\)"):
        layers.Dense(2**61, name="big")(torch.ones(1, 8))


class KerasStyleWeights(layers.Layer):
    """A custom layer written against Keras 3's add_weight: shape first, no name, default initializer."""

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], 64))
        self.b = self.add_weight((64,), "zeros")
        self.steps = self.add_weight(shape=(), dtype="int64", trainable=False)

    def call(self, inputs):
        return inputs @ self.w + self.b


def test_add_weight_takes_keras_3_arguments_and_names_unnamed_weights():
    layer = KerasStyleWeights()
    layer(torch.ones(2, 64))
    assert [name for name, _ in layer.named_parameters()] == ["variable", "variable_1", "variable_2"]
    assert layer.b.shape == (64,) and layer.steps.dtype == torch.int64 and not layer.steps.requires_grad


def test_add_weight_without_initializer_is_glorot_uniform_for_floats_and_zeros_otherwise_as_keras():
    layer = KerasStyleWeights()
    layer(torch.ones(2, 64))
    limit = (6 / (64 + 64)) ** 0.5  # Keras's glorot_uniform limit for a 64 x 64 kernel
    assert layer.w.abs().max() <= limit and layer.w.std() > limit / 3  # not zeros: Keras never starts there
    assert int(layer.steps) == 0


def test_add_weight_with_the_name_first_says_to_pass_it_as_a_keyword():
    with pytest.raises(ValueError, match=r"add_weight takes the shape first, as Keras 3; pass the name as a keyword: "
                                         r"add_weight\(shape=\.\.\., name='kernel'\)\.$"):
        layers.Dense(2).add_weight("kernel", (2, 2))
