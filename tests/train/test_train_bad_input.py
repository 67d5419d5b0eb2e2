"""Bad input at the boundaries of training (fit, evaluate, predict, train_on_batch, layers, compile
names) is a ValueError that says what was expected and what was received, never an obscure error
from deep inside torch."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import rnnkit  # noqa: E402

TIME, FEATURES, CLASSES = 5, 3, 4
X = np.random.default_rng(0).standard_normal((8, TIME, FEATURES)).astype("float32")
LABELS = np.array([0, 1, 2, 3, 0, 1, 2, 3])


def classifier(stateful=False):
    model = rnnkit.Sequential([
        rnnkit.Input((TIME, FEATURES), batch_size=4 if stateful else None),
        rnnkit.layers.LSTM(4, stateful=stateful),
        rnnkit.layers.Dense(CLASSES),
    ])
    model.compile("adam", rnnkit.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return model


# ------------------------------------------------------------------------------ shapes and sizes
@pytest.mark.parametrize("shape", [(8, FEATURES), (8, TIME, FEATURES, 1)])
@pytest.mark.parametrize("call", ["fit", "evaluate", "predict", "train_on_batch"])
def test_input_of_the_wrong_rank_names_the_expected_and_received_shapes(shape, call):
    model = classifier()
    data = np.zeros(shape, "float32")
    arguments = (data,) if call == "predict" else (data, LABELS)
    with pytest.raises(ValueError, match=rf"expects input of shape \(None, {TIME}, {FEATURES}\), got \({shape[0]}, "):
        getattr(model, call)(*arguments, **({} if call == "train_on_batch" else {"verbose": 0}))


def test_a_built_layer_fed_another_feature_size_names_both_sizes():
    layer = rnnkit.layers.GRU(3)
    layer(torch.zeros(2, TIME, FEATURES))
    with pytest.raises(ValueError, match=rf"built for input of shape \(None, None, {FEATURES}\).*got \(2, 5, 7\)"):
        layer(torch.zeros(2, TIME, 7))


@pytest.mark.parametrize("layer", [rnnkit.layers.SimpleRNN(2), rnnkit.layers.LSTM(2), rnnkit.layers.GRU(2)])
def test_a_recurrent_layer_fed_a_matrix_asks_for_batch_time_features(layer):
    with pytest.raises(ValueError, match=r"expects input of shape \(batch, time, features\), got a tensor of shape"):
        layer(torch.zeros(4, FEATURES))


def test_fit_with_fewer_labels_than_samples_names_both_counts():
    with pytest.raises(ValueError, match="x and y must have the same number of samples; got 8 and 5"):
        classifier().fit(X, LABELS[:5], verbose=0)


def test_train_on_batch_with_fewer_labels_than_samples_names_both_shapes():
    with pytest.raises(ValueError, match=r"labels of shape \(8,\) or \(8, 1\).*got labels of shape \(3,\)"):
        classifier().train_on_batch(X, LABELS[:3])


@pytest.mark.parametrize("call", ["fit", "evaluate", "predict"])
def test_an_empty_dataset_is_refused(call):
    model = classifier()
    empty = np.zeros((0, TIME, FEATURES), "float32")
    arguments = (empty,) if call == "predict" else (empty, np.zeros(0, "int64"))
    with pytest.raises(ValueError, match="x is empty: fit/evaluate/predict need at least one sample"):
        getattr(model, call)(*arguments, verbose=0)


def test_a_validation_split_that_leaves_no_training_sample_is_refused():
    with pytest.raises(ValueError, match="validation_split=0.95 of 8 samples leaves an empty training or validation"):
        classifier().fit(X, LABELS, validation_split=0.95, verbose=0)


def test_a_stateful_model_fed_another_batch_size_says_which_it_expects():
    with pytest.raises(ValueError, match="holds states for batch size 4, got a batch of 2; feed batches of 4"):
        classifier(stateful=True).fit(X[:6], LABELS[:6], batch_size=4, shuffle=False, verbose=0)


@pytest.mark.parametrize("batch_size", [0, -3, 2.5, True])
def test_a_batch_size_that_is_not_a_positive_integer_is_refused(batch_size):
    with pytest.raises(ValueError, match=f"batch_size must be a positive integer, got {batch_size!r}"):
        classifier().fit(X, LABELS, batch_size=batch_size, verbose=0)


def test_text_data_for_a_model_without_text_layers_is_refused_with_a_hint():
    with pytest.raises(ValueError, match=r"got text \(an array of strings\): start the model with a TextVectorization"):
        classifier().fit(np.full((8, TIME, FEATURES), "a"), LABELS, verbose=0)


# ---------------------------------------------------------------------------------- values
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_in_x_names_the_first_offending_sample(bad):
    x = X.copy()
    x[5, 2, 1] = bad
    x[7, 0, 0] = bad
    with pytest.raises(ValueError, match=r"x contains NaN or inf \(first at sample 5\)"):
        classifier().fit(x, LABELS, verbose=0)


def test_nan_in_y_names_the_first_offending_sample():
    model = rnnkit.Sequential([rnnkit.Input((TIME, FEATURES)), rnnkit.layers.SimpleRNN(2), rnnkit.layers.Dense(1)])
    model.compile("sgd", "mse")
    y = np.zeros((8, 1), "float32")
    y[3] = np.nan
    with pytest.raises(ValueError, match=r"y contains NaN or inf \(first at sample 3\)"):
        model.fit(X, y, verbose=0)


@pytest.mark.parametrize("call", ["fit", "evaluate", "train_on_batch"])
def test_a_label_outside_the_classes_is_named_with_its_index_and_the_class_count(call):
    labels = LABELS.copy()
    labels[6] = 9
    # One unshuffled batch: the index in the batch is the index in the data
    kwargs = {"fit": {"verbose": 0, "batch_size": 8, "shuffle": False}, "evaluate": {"verbose": 0, "batch_size": 8},
              "train_on_batch": {}}[call]
    with pytest.raises(ValueError, match=rf"labels in \[0, {CLASSES}\) for y_pred with {CLASSES} classes, got "
                                         r"labels from 0 to 9: the first one outside is label 9 at index 6 "):
        getattr(classifier(), call)(X, labels, **kwargs)


def test_a_negative_label_in_sequence_targets_is_named_with_its_batch_and_time_index():
    loss = rnnkit.losses.SparseCategoricalCrossentropy(from_logits=True)
    labels = torch.zeros(2, TIME, dtype=torch.long)
    labels[1, 3] = -1
    with pytest.raises(ValueError, match=r"the first one outside is label -1 at index \(1, 3\) of the batch"):
        loss(labels, torch.zeros(2, TIME, CLASSES))


def test_embedding_token_ids_outside_the_vocabulary_are_named():
    with pytest.raises(ValueError, match=r"expected token ids in \[0, input_dim=5\), got min id 0 and max id 7"):
        rnnkit.layers.Embedding(5, 2)(torch.tensor([[0, 7]]))


# ------------------------------------------------------------------------ names of options
@pytest.mark.parametrize("resolve, typo, suggestion", [
    (lambda name: rnnkit.optimizers.get_optimizer(name, [torch.zeros(1, requires_grad=True)]), "adamm", "'adam'"),
    (rnnkit.losses.get_loss, "mean_sqared_error", "'mean_squared_error'"),
    (rnnkit.metrics.get_metric, "acuracy", "'accuracy'"),
    (lambda name: rnnkit.layers.Dense(2, activation=name), "rellu", "'relu'"),
    (lambda name: rnnkit.layers.Dense(2, kernel_initializer=name)(torch.zeros(1, 3)), "glorot_unifrom",
     "'glorot_uniform'"),
])
def test_an_unknown_option_name_suggests_the_closest_valid_ones(resolve, typo, suggestion):
    with pytest.raises(ValueError, match=rf"Unknown \w+ '{typo}'\. Did you mean {suggestion}"):
        resolve(typo)


@pytest.mark.parametrize("call", ["fit", "evaluate"])
def test_nan_in_sample_weight_names_the_first_offending_sample(call):
    weights = np.ones(8, "float32")
    weights[4] = np.nan
    with pytest.raises(ValueError, match=r"sample_weight contains NaN or inf \(first at sample 4\)"):
        getattr(classifier(), call)(X, LABELS, sample_weight=weights, verbose=0)


def test_nan_in_validation_data_is_refused_naming_the_sample():
    model = rnnkit.Sequential([rnnkit.Input((3, 2)), rnnkit.layers.SimpleRNN(2), rnnkit.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.zeros((8, 3, 2), "float32"), np.zeros((8, 1), "float32")
    bad = x.copy()
    bad[5, 1, 0] = np.nan
    with pytest.raises(ValueError, match=r"validation x contains NaN or inf \(first at sample 5\)"):
        model.fit(x, y, validation_data=(bad, y), verbose=0)


@pytest.mark.parametrize("epochs", [-1, 1.5])
def test_epochs_that_are_not_a_count_are_refused(epochs):
    model = rnnkit.Sequential([rnnkit.Input((3, 2)), rnnkit.layers.SimpleRNN(2), rnnkit.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="epochs must be an integer >= 0"):
        model.fit(np.zeros((4, 3, 2), "float32"), np.zeros((4, 1), "float32"), epochs=epochs, verbose=0)


def test_a_float64_model_trains_on_numpy_data_in_float64():
    model = rnnkit.Sequential([rnnkit.Input((3, 2), dtype="float64"), rnnkit.layers.LSTM(2, dtype="float64"),
                               rnnkit.layers.Dense(1, dtype="float64")])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((4, 3, 2)), np.ones((4, 1))
    model.fit(x, y, validation_data=(x, y), verbose=0)
    assert model.predict(x, verbose=0).dtype == np.float64
    assert np.isfinite(model.train_on_batch(x, y)) and np.isfinite(model.evaluate(x, y, verbose=0))
