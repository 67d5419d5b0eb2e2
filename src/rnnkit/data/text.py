"""Text for the applications: `TextVectorization` (words to ids; it lives beside the text layers
that run on it, `rnnkit.layers.text_vectorizer`) and `pad_sequences` (Keras's
`keras.utils.pad_sequences`)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..checks import check_scalar
from ..layers.text_vectorizer import TextVectorization

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = ["TextVectorization", "pad_sequences"]


def pad_sequences(
    sequences: Sequence[npt.ArrayLike], maxlen: int | None = None, dtype: npt.DTypeLike = "int32", padding: str = "pre",
    truncating: str = "pre", value: float | str = 0.0,
) -> np.ndarray:
    """Pads (or truncates) sequences to one length, as `keras.utils.pad_sequences`.

    Args:
        sequences: a list of sequences (lists or arrays of ids, or of equal-shaped items).
        maxlen: the length of the output; None for the longest sequence's.
        dtype: the output's dtype ("int32" by default, as Keras; `object` for strings).
        padding: "pre" (default) or "post": where the `value`s go.
        truncating: "pre" (default: drop the first items) or "post" (drop the last) for sequences
            longer than `maxlen`.
        value: the padding value.

    Returns:
        An array of shape `(len(sequences), maxlen) + item shape`.

    Raises:
        ValueError: for a bad `padding`/`truncating`, a non-iterable sequence, items of different
            shapes, a string `value` with a non-string dtype, or no sequences and no `maxlen`.

    Example:
        >>> pad_sequences([[1], [2, 3], [4, 5, 6]], maxlen=2, padding="post")
        array([[1, 0],
               [2, 3],
               [5, 6]], dtype=int32)
    """
    for name, choice in (("padding", padding), ("truncating", truncating)):
        if choice not in ("pre", "post"):
            raise ValueError(f"{name} must be 'pre' or 'post', got {choice!r}.")
    if not hasattr(sequences, "__len__"):
        raise ValueError(f"sequences must be a list of sequences, got {type(sequences).__name__}.")
    check_scalar(maxlen, "maxlen", int, min_val=0, or_none="the longest sequence")
    lengths = []
    item_shape = None
    for index, sequence in enumerate(sequences):
        try:
            lengths.append(len(sequence))
        except TypeError:
            raise ValueError(
                f"sequences must be a list of sequences; the item at position {index} is {sequence!r}."
            ) from None
        if item_shape is None and len(sequence):
            item_shape = np.asarray(sequence).shape[1:]
    if maxlen is None:
        if not lengths:
            raise ValueError("cannot pad an empty list of sequences to their longest length; pass maxlen.")
        maxlen = max(lengths)
    item_shape = item_shape or ()
    text_dtype = np.issubdtype(dtype, np.str_) or np.issubdtype(dtype, np.bytes_)
    if isinstance(value, str) and dtype is not object and not text_dtype:
        raise ValueError(f"a string padding value needs dtype=object (or a string dtype), got dtype={dtype!r}.")
    padded = np.full((len(sequences), maxlen) + item_shape, value, dtype=dtype)
    if maxlen == 0:
        return padded
    for index, sequence in enumerate(sequences):
        if not len(sequence):
            continue
        kept = np.asarray(sequence[-maxlen:] if truncating == "pre" else sequence[:maxlen], dtype=dtype)
        if kept.shape[1:] != item_shape:
            raise ValueError(
                f"the items of the sequence at position {index} have shape {kept.shape[1:]}, the first "
                f"non-empty sequence's have shape {item_shape}; all must agree."
            )
        if padding == "post":
            padded[index, : len(kept)] = kept
        else:
            padded[index, -len(kept):] = kept
    return padded
