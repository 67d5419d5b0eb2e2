"""Models: `Sequential`, the functional `Input`/`Model` graph, subclassed models, `summary()`."""
from .functional import Functional
from .model import Model
from .sequential import Sequential
from .symbolic import Input, InputLayer, KerasTensor
