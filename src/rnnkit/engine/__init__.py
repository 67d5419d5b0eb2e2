"""The math of recurrence: fused sequence kernels with hand-derived backward passes, and the
generic autograd loop for custom cells. Knows nothing of Keras or files."""
from .activations import Activation, get_activation
from .embedding_projection import embedding_projection
from .generic import cell_scan
from .gru import gru_scan
from .lstm import lstm_scan
from .simple_rnn import simple_rnn_scan
