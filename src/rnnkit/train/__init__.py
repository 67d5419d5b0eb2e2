"""Training: compile/fit and what it uses (losses, metrics, optimizers, callbacks)."""
from . import optimizers
from . import losses, metrics
from . import callbacks, progress
