"""Data for the applications: time-series windows and scalers, CSV loading, text vectorization
(word and character), padding, and readers for common file formats."""
from .chars import CharVocabulary
from .idx import read_idx, read_idx_pair
from .text import TextVectorization, pad_sequences
