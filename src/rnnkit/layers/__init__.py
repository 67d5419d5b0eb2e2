"""Keras 3 layers as torch.nn.Modules."""
from . import constraints, initializers, regularizers
from .base import Layer, get_mask, set_mask
from .core import Activation, Dense, Dropout, Embedding, Masking, RepeatVector
from .time_distributed import TimeDistributed
from .gru import GRU, GRUCell
from .lstm import LSTM, LSTMCell
from .recurrent_cell import DropoutRNNCell
from .rnn import RNN, StackedRNNCells
from .serialization import deserialize_layer, register_serializable, serialize_layer
from .simple_rnn import SimpleRNN, SimpleRNNCell
from .bidirectional import Bidirectional
from .normalization import BatchNormalization, LayerNormalization
from .reshaping import Flatten
from .merging import Add, Concatenate, add, concatenate
from .operation import Operation
from .text_preprocessing import StringLookup, TextVectorization
