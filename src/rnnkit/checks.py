"""`check_scalar`: the one check of a scalar argument's type and range.

It follows scikit-learn's `sklearn.utils.check_scalar` (a name, a target type, `min_val`/`max_val` and
which of them are included), with rnnkit's one-line messages that name the argument, say what is
expected and show what was received:

    >>> check_scalar(0, "units", int, min_val=1)
    Traceback (most recent call last):
    ValueError: units must be a positive integer, got 0.

This module imports nothing of rnnkit, so that every layer of the package may use it.
"""
import math
import numbers
from collections.abc import Sequence

__all__ = ["ScalarTypeError", "check_scalar", "check_weight_shape"]

BOUNDARIES = ("both", "left", "right", "neither")
# The most bytes one tensor can hold: PyTorch counts a storage's bytes in a signed 64-bit integer, and
# no machine addresses more.
MAX_TENSOR_BYTES = 2**63 - 1
# The longest repr of a received value a message shows (an array passed by mistake is not printed whole)
_SHOWN = 80


class ScalarTypeError(TypeError, ValueError):
    """A scalar argument of the wrong type. It is a TypeError, as scikit-learn raises, and a ValueError
    too, as rnnkit raised for every bad argument before: code (and the `rnnkit` command's one-line
    errors) catching bad arguments as ValueError still catches it."""


def check_scalar(value: object, name: str, target_type: type, *, min_val: float | None = None,
                 max_val: float | None = None, include_boundaries: str = "both", or_none: str | None = None,
                 hint: str | None = None) -> object:
    """Checks that `value` is a scalar of `target_type` between `min_val` and `max_val`.

    Args:
        value: the argument to check.
        name: how the message names it, e.g. "units" or "LSTM 'lstm': units".
        target_type: `int` (any integral number, NumPy's included) or `float` (any real number,
            integers and NumPy's included). bool is neither: True is refused for a count or a rate.
            A float must be finite: NaN and infinities are refused.
        min_val, max_val: the bounds, None for none.
        include_boundaries: which bounds are allowed values: "both" (the default), "left" (`min_val`
            only), "right" (`max_val` only) or "neither", as scikit-learn.
        or_none: when given, None is accepted too, and this says what None means in the message
            (e.g. "no time limit").
        hint: words added after the expectation in the message, after a comma (e.g. "e.g. 0.8").

    Returns:
        `value`: for an int target a Python int (a NumPy integer converted, so that it serializes as
        one), otherwise unchanged.

    Raises:
        ScalarTypeError: `value` is not of `target_type` (a TypeError that is also a ValueError).
        ValueError: `value` is out of range, or a float that is NaN or infinite.

    Example:
        >>> check_scalar(0.5, "dropout", float, min_val=0, max_val=1, include_boundaries="left")
        0.5
        >>> check_scalar(1.0, "dropout", float, min_val=0, max_val=1, include_boundaries="left")
        Traceback (most recent call last):
        ValueError: dropout must be in [0, 1), got 1.0.
    """
    if include_boundaries not in BOUNDARIES:
        raise ValueError(f"include_boundaries must be one of {', '.join(BOUNDARIES)}, got {include_boundaries!r}.")
    if min_val is None and include_boundaries == "left" or max_val is None and include_boundaries == "right":
        # scikit-learn's rule: a boundary said to be included must be given
        raise ValueError(f"include_boundaries={include_boundaries!r} names a bound that is not given "
                         f"(min_val={min_val!r}, max_val={max_val!r}).")
    if target_type in (int, numbers.Integral):
        integer = True
    elif target_type in (float, numbers.Real):
        integer = False
    else:
        raise TypeError(f"check_scalar checks int or float arguments, got target_type={target_type!r}.")
    if value is None and or_none is not None:
        return value
    low_in = include_boundaries in ("both", "left")
    high_in = include_boundaries in ("both", "right")
    expected = _expected(integer, min_val, max_val, low_in, high_in, or_none, hint)
    shown = _shown(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral if integer else numbers.Real):
        raise ScalarTypeError(f"{name} must be {expected}, got {shown} ({type(value).__name__}).")
    in_range = (
        (integer or _finite(value))
        and (min_val is None or (value >= min_val if low_in else value > min_val))
        and (max_val is None or (value <= max_val if high_in else value < max_val))
    )
    if not in_range:
        raise ValueError(f"{name} must be {expected}, got {shown}.")
    return int(value) if integer else value


def check_weight_shape(shape: Sequence[int], name: str, itemsize: int = 2) -> None:
    """Refuses a weight no machine can hold: more than 2**63 - 1 bytes at `itemsize` bytes per element
    (by default 2, the smallest floating weight: float16 or bfloat16). Layers call it at
    construction for the weights their size arguments fix, so that `LSTM(10**30)` fails there, as
    Keras refuses `units=0` there, rather than deep inside the first call.

    Args:
        shape: the weight's shape (positive ints).
        name: what made the shape, as the message names it, e.g. "LSTM 'lstm': units".
        itemsize: bytes per element (the weight's dtype); 2 where it is not known yet.

    Raises:
        ValueError: `name` makes a weight of more than 2**63 - 1 bytes.
    """
    if math.prod(shape) * itemsize > MAX_TENSOR_BYTES:
        shown = ", ".join(_shown(int(dim)) for dim in shape)
        raise ValueError(f"{name} is too large: it makes a weight of shape ({shown}), over 2**63 - 1 bytes, "
                         "which no machine can hold.")


def _shown(value):
    """The received value as the message shows it: its repr, cut to _SHOWN characters."""
    try:
        text = repr(value)
    except ValueError:  # an int past Python's limit on digits for str (sys.get_int_max_str_digits)
        return f"an integer of {value.bit_length()} bits"
    return text if len(text) <= _SHOWN else text[:_SHOWN - 3] + "..."


def _finite(value):
    """Whether the real `value` is a finite float: an int or Fraction too large for a float is not."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _expected(integer, min_val, max_val, low_in, high_in, or_none, hint):
    """What the argument must be, in words: "a positive integer", "a number in [0, 1)", ..."""
    kind = "an integer" if integer else "a number"
    if min_val is not None and max_val is not None:
        # "in [0, 1)" says a number already, as rnnkit's and Keras's messages say it
        interval = f"{'[' if low_in else '('}{min_val}, {max_val}{']' if high_in else ')'}"
        words = f"{kind} in {interval}" if integer else f"in {interval}"
    elif min_val is not None:
        positive = min_val == (1 if integer else 0) and low_in == integer
        words = (f"a positive {kind.split()[-1]}" if positive
                 else f"{kind} {'>=' if low_in else '>'} {min_val}")
    elif max_val is not None:
        words = f"{kind} {'<=' if high_in else '<'} {max_val}"
    else:
        words = kind
    if or_none is not None:
        words += f" or None ({or_none})"
    return words + (f", {hint}" if hint else "")
