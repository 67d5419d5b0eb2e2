"""`CharVocabulary`: characters to integer ids and back, for character-level models."""
from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = ["CharVocabulary"]


class CharVocabulary:
    """A fixed table of characters; id `i` is `characters[i]`.

    Args:
        characters: the distinct characters, in id order (a string or a list of 1-character strings).
        unknown: a character of the table that stands for characters outside it when encoding; by
            default such characters are an error.

    Example:
        >>> vocabulary = CharVocabulary.from_text("hello world")
        >>> vocabulary.encode("hold")
        array([3, 5, 4, 1])
        >>> vocabulary.decode([3, 5, 4, 1])
        'hold'
    """

    def __init__(self, characters: str | Iterable[str], unknown: str | None = None) -> None:
        characters = list(characters)
        if not characters:
            raise ValueError("CharVocabulary needs at least one character.")
        bad = [c for c in characters if not isinstance(c, str) or len(c) != 1]
        if bad:
            raise ValueError(f"CharVocabulary takes single characters, got {bad[:5]!r}.")
        if len(set(characters)) != len(characters):
            repeated = sorted({c for c in characters if characters.count(c) > 1})
            raise ValueError(f"CharVocabulary characters must be distinct; repeated: {repeated!r}.")
        self.characters = characters
        self.ids = {c: i for i, c in enumerate(characters)}
        if unknown is not None and unknown not in self.ids:
            raise ValueError(f"the unknown character {unknown!r} is not in the vocabulary.")
        self.unknown = unknown

    @classmethod
    def from_text(cls, text: str, extra: str = "", unknown: str | None = None) -> CharVocabulary:
        """The vocabulary of the distinct characters of `text` (and `extra`), sorted."""
        if not text and not extra:
            raise ValueError("cannot build a character vocabulary from empty text.")
        return cls(sorted(set(text) | set(extra)), unknown=unknown)

    def __len__(self):
        return len(self.characters)

    def __contains__(self, character):
        return character in self.ids

    def encode(self, text: str) -> np.ndarray:
        """The ids of the characters of `text`, as an int64 array."""
        if self.unknown is None:
            missing = sorted({c for c in text if c not in self.ids})
            if missing:
                raise ValueError(
                    f"characters {missing[:10]!r} are not in the model's vocabulary of {len(self)} characters; "
                    "use only characters seen in training."
                )
            return np.fromiter((self.ids[c] for c in text), dtype=np.int64, count=len(text))
        fallback = self.ids[self.unknown]
        return np.fromiter((self.ids.get(c, fallback) for c in text), dtype=np.int64, count=len(text))

    def decode(self, ids: npt.ArrayLike) -> str:
        """The text of the ids `ids` (any iterable of integers in range)."""
        ids = np.asarray(ids, dtype=np.int64).ravel()
        if ids.size and (ids.min() < 0 or ids.max() >= len(self)):
            raise ValueError(f"ids must be in [0, {len(self)}), got values from {ids.min()} to {ids.max()}.")
        return "".join(self.characters[i] for i in ids)

    def get_config(self) -> dict[str, Any]:
        """A JSON-serializable dict that `from_config` turns back into this vocabulary."""
        return {"characters": "".join(self.characters), "unknown": self.unknown}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> CharVocabulary:
        return cls(config["characters"], unknown=config.get("unknown"))

    def __repr__(self):
        return f"CharVocabulary({len(self)} characters)"
