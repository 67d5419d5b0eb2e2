"""`from keras.X import Y` becomes `from rnnkit.X import Y`: the modules exist as Keras names them."""
import importlib
import subprocess
import sys

import pytest

import rnnkit

KERAS_NAMES = {
    "rnnkit.layers": ["Input", "InputLayer", "LSTM", "GRU", "SimpleRNN", "RNN", "Embedding", "Dense"],
    "rnnkit.models": ["Model", "Sequential", "load_model", "save_model"],
    "rnnkit.callbacks": ["EarlyStopping", "ModelCheckpoint", "LambdaCallback"],
    "rnnkit.optimizers": ["Adam", "SGD", "RMSprop"],
    "rnnkit.losses": ["SparseCategoricalCrossentropy", "MeanSquaredError"],
    "rnnkit.metrics": ["Accuracy", "SparseCategoricalAccuracy"],
    "rnnkit.saving": ["register_keras_serializable", "load_model", "save_model"],
    "rnnkit.utils": ["to_categorical", "pad_sequences", "plot_model", "set_random_seed"],
    "rnnkit.initializers": [], "rnnkit.regularizers": [], "rnnkit.constraints": [],
    "rnnkit.activations": ["get", "serialize", "deserialize", "tanh", "relu", "softmax"],
    "rnnkit.random": ["normal", "uniform", "SeedGenerator"],
    "rnnkit.ops": ["matmul", "einsum", "concatenate", "not_equal"],
}


@pytest.mark.parametrize("module", sorted(KERAS_NAMES))
def test_keras_module_imports_as_a_submodule_with_keras_names(module):
    imported = importlib.import_module(module)
    missing = [name for name in KERAS_NAMES[module] if not hasattr(imported, name)]
    assert not missing


@pytest.mark.parametrize("name, where", [
    ("Layer", "layers"), ("KerasTensor", "models"), ("Initializer", "initializers"), ("Regularizer", "regularizers"),
    ("Loss", "losses"), ("Metric", "metrics"), ("Optimizer", "optimizers"), ("DTypePolicy", "mixed_precision"),
])
def test_keras_3_top_level_class_is_rnnkits_own(name, where):
    assert getattr(rnnkit, name) is getattr(getattr(rnnkit, where), name)


def test_submodule_is_the_module_where_the_code_lives():
    import rnnkit.callbacks
    import rnnkit.train.callbacks

    assert rnnkit.callbacks is rnnkit.train.callbacks
    assert rnnkit.layers.Input is rnnkit.Input


def test_from_import_works_in_a_fresh_interpreter():
    code = "from rnnkit.losses import MeanSquaredError; from rnnkit.initializers import get_initializer; print('ok')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "ok", done.stderr[-1000:]


def test_layer_given_an_argument_keras_does_not_know_names_layer_and_argument():
    with pytest.raises(TypeError, match=r"^LSTM .*unexpected keyword argument\(s\): unitz\.$"):
        rnnkit.layers.LSTM(4, unitz=3)
