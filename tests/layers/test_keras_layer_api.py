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
