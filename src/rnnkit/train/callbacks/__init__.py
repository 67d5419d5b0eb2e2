"""Keras 3 callbacks: hooks into fit/evaluate/predict, with Keras's semantics.

The fit loop drives a `CallbackList`, which calls every hook of every callback in order (the user's
callbacks, then `History`, then the progress bar, as Keras). Callbacks see:
- `self.model`: the model being trained. Callbacks use only `stop_training` (set it to True and the
  loop stops after the current epoch), `optimizer.learning_rate`, `get_weights()`/`set_weights()`,
  `save(path)` and `save_weights(path)`.
- `self.params`: `{"verbose": ..., "epochs": ..., "steps": ...}` (steps per epoch, None if unknown).
- `logs`: at epoch level a dict name -> float (`loss`, metric names, `val_`-prefixed ones); at batch
  level the values may be 0-d tensors, so that the loop need not wait on the device every batch:
  convert with `float()` only when a value is needed.

Batch-level logs are shared by all callbacks and must not be modified; epoch-level logs are a copy
made once per hook call and shared by the callbacks in order, so a callback may add entries for the
ones after it (ReduceLROnPlateau and LearningRateScheduler add `learning_rate`, which History records).

One module per family: base (Callback and its hooks), callback_list (CallbackList), logging (History,
CSVLogger), monitor (what the callbacks watching one quantity share), stopping (EarlyStopping,
TerminateOnNaN), schedule (ReduceLROnPlateau, LearningRateScheduler), checkpoint (ModelCheckpoint,
BackupAndRestore), lambda_callback (LambdaCallback); ProgbarLogger lives with the progress bar in
rnnkit.train.progress.
"""
from ..progress import ProgbarLogger
from .base import HOOKS, Callback
from .callback_list import CallbackList
from .checkpoint import BackupAndRestore, ModelCheckpoint
from .lambda_callback import LambdaCallback
from .logging import CSVLogger, History
from .schedule import LearningRateScheduler, ReduceLROnPlateau
from .stopping import EarlyStopping, TerminateOnNaN

__all__ = [
    "Callback", "CallbackList", "History", "EarlyStopping", "ModelCheckpoint", "ReduceLROnPlateau",
    "LearningRateScheduler", "CSVLogger", "TerminateOnNaN", "LambdaCallback", "ProgbarLogger",
]
