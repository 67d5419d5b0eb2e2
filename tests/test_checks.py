"""check_scalar: the one check of a scalar argument (type, range, boundaries), as scikit-learn's, with
one-line messages naming the argument, the expectation and the value."""
import re

import numpy as np
import pytest

import rnnkit
from rnnkit.checks import ScalarTypeError, check_scalar
from rnnkit.data import pad_sequences
from rnnkit.tasks import train_forecaster


@pytest.mark.parametrize("value", [3, np.int64(3), np.int32(3), np.uint8(3)])
def test_an_int_target_takes_python_and_numpy_integers_and_returns_a_python_int(value):
    checked = check_scalar(value, "units", int, min_val=1)
    assert checked == 3 and type(checked) is int


@pytest.mark.parametrize("value", [0.5, 1, np.float32(0.5), np.float64(0.5), np.int64(1)])
def test_a_float_target_takes_any_real_number_unchanged(value):
    assert check_scalar(value, "rate", float, min_val=0, max_val=1) is value


@pytest.mark.parametrize("target_type", [int, float])
@pytest.mark.parametrize("value", [True, False, np.bool_(True)])
def test_bool_is_neither_an_int_nor_a_float(value, target_type):
    with pytest.raises(ScalarTypeError, match=r"flag must be .*, got (np\.)?(True|False)_? \(bool_?\)\."):
        check_scalar(value, "flag", target_type)


@pytest.mark.parametrize("value", [2.0, "3", np.float64(2.0), [3], None])
def test_an_int_target_refuses_other_types_with_a_type_error_that_is_also_a_value_error(value):
    with pytest.raises(TypeError, match="units must be a positive integer, got "):
        check_scalar(value, "units", int, min_val=1)
    with pytest.raises(ValueError):
        check_scalar(value, "units", int, min_val=1)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), np.float32("nan")])
def test_a_float_target_refuses_nan_and_infinities_even_without_bounds(value):
    with pytest.raises(ValueError, match=r"lr must be a number, got "):
        check_scalar(value, "lr", float)


@pytest.mark.parametrize("boundaries, notation, low_ok, high_ok", [
    ("both", "[0, 1]", True, True), ("left", "[0, 1)", True, False),
    ("right", "(0, 1]", False, True), ("neither", "(0, 1)", False, False),
])
def test_include_boundaries_says_which_bounds_are_allowed_values(boundaries, notation, low_ok, high_ok):
    for value, ok in ((0, low_ok), (1, high_ok), (0.5, True), (-0.1, False), (1.1, False)):
        if ok:
            assert check_scalar(value, "rate", float, min_val=0, max_val=1, include_boundaries=boundaries) == value
        else:
            with pytest.raises(ValueError, match=rf"^rate must be in {re.escape(notation)}, got {value}\.$"):
                check_scalar(value, "rate", float, min_val=0, max_val=1, include_boundaries=boundaries)


@pytest.mark.parametrize("kwargs, value, message", [
    ({"min_val": 1}, 0, "n must be a positive integer, got 0."),
    ({"min_val": 0}, -1, "n must be an integer >= 0, got -1."),
    ({"min_val": 2, "include_boundaries": "neither"}, 2, "n must be an integer > 2, got 2."),
    ({"max_val": 9}, 10, "n must be an integer <= 9, got 10."),
    ({"min_val": 1, "max_val": 9, "hint": "for 10 images"}, 10, "n must be an integer in [1, 9], for 10 images, got 10."),
    ({"min_val": 1, "or_none": "no limit"}, 0, "n must be a positive integer or None (no limit), got 0."),
])
def test_the_message_names_the_argument_what_is_expected_and_the_value(kwargs, value, message):
    with pytest.raises(ValueError) as error:
        check_scalar(value, "n", int, **kwargs)
    assert str(error.value) == message


def test_a_positive_float_and_a_cut_long_value_read_well():
    with pytest.raises(ValueError, match=r"^minutes must be a positive number, got 0\.$"):
        check_scalar(0, "minutes", float, min_val=0, include_boundaries="neither")
    with pytest.raises(TypeError) as error:
        check_scalar("x" * 500, "units", int)
    assert len(str(error.value)) < 140 and "xxx... (str)." in str(error.value)


def test_none_passes_only_when_the_argument_says_what_none_means():
    assert check_scalar(None, "top_k", int, min_val=1, or_none="no restriction") is None
    with pytest.raises(TypeError, match="top_k must be a positive integer, got None"):
        check_scalar(None, "top_k", int, min_val=1)


@pytest.mark.parametrize("kwargs", [{"include_boundaries": "open"}, {"include_boundaries": "left", "max_val": 1},
                                    {"include_boundaries": "right", "min_val": 0}])
def test_inconsistent_boundaries_are_a_programming_error(kwargs):
    with pytest.raises(ValueError, match="include_boundaries"):
        check_scalar(0.5, "rate", float, **kwargs)


def test_only_int_and_float_targets_are_checked():
    with pytest.raises(TypeError, match="target_type"):
        check_scalar("a", "name", str)


def _sgd(momentum):
    return rnnkit.optimizers.SGD(momentum=momentum)


@pytest.mark.parametrize("call, message", [
    (lambda: rnnkit.layers.Dense(True), r"Dense '.*': units must be a positive integer, got True \(bool\)"),
    (lambda: rnnkit.layers.LSTM(0), r"LSTM '.*': units must be a positive integer, got 0\."),
    (lambda: rnnkit.layers.GRU(4, dropout=float("nan")), r"dropout must be in \[0, 1\), got nan"),
    (lambda: rnnkit.layers.Embedding(10, 2.0), r"`output_dim` must be a positive integer, got 2\.0 \(float\)"),
    (lambda: _sgd(float("inf")), r"Argument `momentum` must be in \[0, 1\], got inf"),
    (lambda: pad_sequences([[1]], maxlen=-1), r"maxlen must be an integer >= 0 or None \(the longest sequence\)"),
    (lambda: train_forecaster(np.arange(50.0), horizon=True), r"horizon must be a positive integer, got True"),
])
def test_public_functions_refuse_bad_scalars_with_the_helpers_message(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_a_numpy_integer_is_taken_for_a_layer_size_and_the_config_holds_a_python_int():
    layer = rnnkit.layers.LSTM(np.int64(3))
    assert layer.units == 3 and type(layer.get_config()["units"]) is int


def test_a_float_target_refuses_an_integer_too_large_for_a_float():
    with pytest.raises(ValueError, match=r"^lr must be a number, got 1000"):
        check_scalar(10 ** 400, "lr", float)
    with pytest.raises(ValueError, match=r"^rate must be in \[0, 1\], got -1000"):
        check_scalar(-10 ** 400, "rate", float, min_val=0, max_val=1)


@pytest.mark.parametrize("target_type", [int, float])
def test_an_integer_past_pythons_digit_limit_for_str_is_shown_by_its_size(target_type):
    with pytest.raises(ValueError, match=r"^units must be (an integer|a number) <= 8, got an integer of 16610 bits\.$"):
        check_scalar(10 ** 5000, "units", target_type, max_val=8)


def test_check_weight_shape_refuses_only_more_bytes_than_a_64_bit_count_holds():
    from rnnkit.checks import check_weight_shape

    check_weight_shape((2**31 - 1, 2**31 - 1), "x")  # 2**63 - 2**33 bytes at 2 per element: could exist
    with pytest.raises(ValueError, match=r"^x is too large: it makes a weight of shape \(2147483648, 2147483648\), "
                                         r"over 2\*\*63 - 1 bytes, which no machine can hold\.$"):
        check_weight_shape((2**31, 2**31), "x")
    with pytest.raises(ValueError, match="over 2"):
        check_weight_shape((2**31 - 1, 2**31 - 1), "x", itemsize=4)
