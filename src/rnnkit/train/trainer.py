"""compile / fit / evaluate / predict and the *_on_batch calls, as Keras 3 has them.

`TrainingMixin` is inherited by rnnkit's models; it needs from the model only what every rnnkit
model has: `__call__(x, training=...)`, `parameters()`, `losses` (regularisation penalties) and
`apply_constraints()`. One training step: forward with training=True, loss (+ penalties),
backward, optimizer step (which clips as configured), constraints. Per-batch numbers stay on the
device as tensors; they reach the host only when the progress bar redraws and at epoch end.

Beyond Keras: `fit(..., bptt_steps=k)` trains with truncated backpropagation through time, and
`fit(..., log_grad_norm=True)` records gradient norms, the two tools the seed tutorials point to
for long sequences and for vanishing or exploding gradients.
"""
from __future__ import annotations

import contextlib
import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from ..checks import check_scalar
from ..layers.bidirectional import Bidirectional
from ..layers.rnn import RNN, carrying_active, carrying_states
from ..engine.native import one_thread
from ..engine.nest import flatten
from . import distributed
from . import losses as losses_module
from . import metrics as metrics_module
from .callbacks import Callback, CallbackList, History
from .data_adapter import ArrayBatches, batches_for, check_finite, to_tensors
from .fast_step import WholeStep
from .optimizers import LossScaleOptimizer, Optimizer, get_optimizer
from .progress import resolve_verbose


# Below this much work per training step (batch x time steps x trainable weights, about half the
# forward flops), running each op on several threads costs more than it saves: every op pays
# the thread pool's fork and join (measured on a 2-core machine: an op on 500 floats takes 2.5 us
# on one thread and 20 us or more on two when other processes share the cores), while the
# arithmetic it could split takes microseconds.
SMALL_STEP_WORK = 2_000_000


def one_thread_for_small_steps(x: Any, optimizer: torch.optim.Optimizer) -> contextlib.AbstractContextManager:
    """Runs the block with one intra-op thread when the step on batch `x` is small (below
    SMALL_STEP_WORK) and on the CPU; leaves the thread count alone otherwise, and restores it."""
    first = x if isinstance(x, torch.Tensor) else flatten(x)[0]
    rows = first.shape[0] * (first.shape[1] if first.ndim > 1 else 1)
    weights = sum(p.numel() for group in optimizer.param_groups for p in group["params"])
    on_cpu = not isinstance(first, torch.Tensor) or first.is_cpu  # strings stay NumPy arrays
    # nullcontext where one_thread(False) would change nothing: ~1.5 us less per step than its generator
    return one_thread(True) if on_cpu and rows * weights < SMALL_STEP_WORK else contextlib.nullcontext()


def _outputs_list(outputs):
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


def _to_numpy(tensor):
    # NumPy has no bfloat16: mixed_bfloat16 outputs come back as float32, as Keras's torch backend does.
    return (tensor.float() if tensor.dtype == torch.bfloat16 else tensor).cpu().numpy()


class _Compiled:
    """The loss, metrics and optimizer configuration given to compile(), resolved per output."""

    def __init__(self, optimizer, loss, metrics, loss_weights):
        if loss is None:
            raise ValueError("compile() needs a loss, e.g. loss='mse' or loss='sparse_categorical_crossentropy'.")
        self.optimizer_spec = optimizer
        self.loss_spec, self.metrics_spec, self.loss_weights = loss, metrics or [], loss_weights
        self.losses = None  # per output, resolved at the first batch (the output count is known then)
        self.metrics = None
        self.loss_tracker = metrics_module.Mean(name="loss")
        self.whole_step = None  # (optimizer, fast_step.WholeStep or None), decided at the first fast-path check

    def resolve(self, n_outputs, output_names):
        if self.losses is not None:
            return
        spec = self.loss_spec
        if isinstance(spec, dict):
            spec = [spec.get(name) for name in output_names]
        elif not isinstance(spec, (list, tuple)):
            spec = [spec] * n_outputs
        if len(spec) != n_outputs:
            raise ValueError(f"compile() got {len(spec)} losses for a model with {n_outputs} outputs.")
        self.losses = [None if s is None else losses_module.get_loss(s) for s in spec]
        weights = self.loss_weights
        if isinstance(weights, dict):
            weights = [weights.get(name, 1.0) for name in output_names]
        self.weights = list(weights) if weights is not None else [1.0] * n_outputs
        metric_spec = self.metrics_spec
        if isinstance(metric_spec, dict):
            metric_spec = [metric_spec.get(name, []) for name in output_names]
        elif n_outputs == 1 or not any(isinstance(m, (list, tuple)) for m in metric_spec):
            metric_spec = [metric_spec] * n_outputs
        self.metrics = []
        for i, (specs, loss_spec) in enumerate(zip(metric_spec, spec)):
            specs = specs if isinstance(specs, (list, tuple)) else [specs]
            for s in specs:
                metric = metrics_module.get_metric(s, loss=loss_spec)
                if n_outputs > 1:
                    metric.name = f"{output_names[i]}_{metric.name}"
                self.metrics.append((i, metric))

    def all_metrics(self):
        return [self.loss_tracker] + [m for _, m in (self.metrics or [])]


class TrainingMixin:
    """Keras's training API for rnnkit models."""

    # During fit under torchrun: the DataParallel (rnnkit.train.distributed) the steps go through
    _parallel = None

    def compile(
        self, optimizer: Any = "rmsprop", loss: Any = None, metrics: Any = None,
        loss_weights: Sequence[float] | Mapping[str, float] | None = None,
    ) -> None:
        """Configures training.

        Args:
            optimizer: a name ("sgd", "adam", "rmsprop", "adamw", "adagrad", "nadam", with Keras's
                defaults), an `rnnkit.optimizers` object, or any `torch.optim.Optimizer`.
            loss: a name ("mse", "mae", "huber", "binary_crossentropy", "categorical_crossentropy",
                "sparse_categorical_crossentropy"), an `rnnkit.losses` object, a function
                `fn(y_true, y_pred)`, or a list/dict of those, one per output.
            metrics: list of names ("accuracy", "mae", "rmse", "auc", ...) or metric objects; a list
                of lists or a dict for several outputs.
            loss_weights: list or dict of per-output weights of the total loss.
        """
        self._compiled = _Compiled(optimizer, loss, metrics, loss_weights)
        self.optimizer = None
        self.stop_training = False
        self._grad_norm_trackers = []

    # ----------------------------------------------------------------------------------- helpers
    def _require_compiled(self, what):
        if getattr(self, "_compiled", None) is None:
            raise ValueError(f"Call compile(optimizer, loss, metrics) before {what}().")
        return self._compiled

    def _device(self):
        first = next(self.parameters(), None)
        return first.device if first is not None else torch.device("cpu")

    def _device_and_float_dtype(self):
        """(`_device()`, `_float_dtype()`) from one look at the weights where the first is floating
        (each of the two walks the modules, ~3 us, which the *_on_batch calls pay at every batch)."""
        first = next(self.parameters(), None)
        if first is not None and first.is_floating_point():
            return first.device, first.dtype
        return self._device(), self._float_dtype()

    def _ensure_ready(self, x):
        """Builds the model on a first batch if needed, then the optimizer over its weights."""
        compiled = self._compiled
        if self.optimizer is not None:  # built on the weights, so they exist: nothing to do
            return
        if next(self.parameters(), None) is None:
            with torch.no_grad():
                self(x, training=False)
        params = [p for p in self.parameters() if p.requires_grad]
        optimizer = get_optimizer(compiled.optimizer_spec, params)
        float16 = any(getattr(getattr(m, "_dtype_policy", None), "name", None) == "mixed_float16" for m in self.modules())
        if float16 and isinstance(optimizer, Optimizer) and not isinstance(optimizer, LossScaleOptimizer):
            # As Keras's compile(auto_scale_loss=True): float16 gradients underflow without loss scaling.
            optimizer = LossScaleOptimizer(optimizer).build(params)
        self.optimizer = optimizer

    def _compute_loss(self, y, outputs, sample_weight):
        compiled = self._compiled
        # As Keras: under a mixed policy the outputs come in bfloat16/float16; losses and metrics
        # are computed in float32.
        outputs = [o.float() if o.dtype in (torch.bfloat16, torch.float16) else o for o in _outputs_list(outputs)]
        compiled.resolve(len(outputs), getattr(self, "output_names", None) or [f"output_{i + 1}" for i in range(len(outputs))])
        targets = y if isinstance(y, (list, tuple)) and len(outputs) > 1 else [y]
        if isinstance(y, dict):
            targets = [y[name] for name in self.output_names]
        if len(targets) != len(outputs):
            raise ValueError(f"The model has {len(outputs)} outputs but y holds {len(targets)} targets.")
        total = None
        for loss_fn, weight, target, output in zip(compiled.losses, compiled.weights, targets, outputs):
            if loss_fn is None:
                continue
            value = weight * loss_fn(target, output, sample_weight)
            total = value if total is None else total + value
        penalties = self.losses
        if penalties:
            total = total + torch.stack([p.to(total.dtype) for p in penalties]).sum()
        return total, targets, outputs

    def _update_metrics(self, loss, targets, outputs, sample_weight):
        compiled = self._compiled
        # As Keras: the epoch loss is the mean of batch losses weighted by batch size.
        batch_size = float(len(outputs[0]))
        compiled.loss_tracker.update_state(loss.detach(), sample_weight=batch_size)
        if compiled.metrics:
            with torch.no_grad():
                for index, metric in compiled.metrics:
                    metric.update_state(targets[index], outputs[index].detach(), sample_weight)

    def _logs(self, training=False):
        logs = {m.name: m.result() for m in self._compiled.all_metrics()}
        if training:
            logs.update({tracker.name: tracker.result() for tracker, _ in self._grad_norm_trackers})
        return logs

    def _final_logs(self, parallel, training=False):
        """The logs as floats at the end of an epoch or evaluation; under torchrun those of all
        processes together (their metric states summed first, so that every sample weighs alike)."""
        if parallel is not None:
            trackers = [tracker for tracker, _ in self._grad_norm_trackers] if training else []
            parallel.reduce_metrics(self._compiled.all_metrics() + trackers)
        return {k: float(v) for k, v in self._logs(training=training).items()}

    def _reset_metrics(self):
        for metric in self._compiled.all_metrics():
            metric.reset_state()
        for tracker, _ in self._grad_norm_trackers:
            tracker.reset_state()

    @staticmethod
    def _class_sample_weight(y, class_weight):
        """Per-sample weights from {class: weight} for sparse or one-hot labels."""
        if not isinstance(class_weight, dict):
            raise ValueError(f"class_weight must be a dict {{class id: weight}}, got {type(class_weight).__name__}.")
        for cls, weight in class_weight.items():
            if isinstance(cls, bool) or not isinstance(cls, numbers.Integral) or cls < 0:
                raise ValueError(f"class_weight keys must be class ids (integers >= 0), got {cls!r}.")
            if (isinstance(weight, bool) or not isinstance(weight, numbers.Real) or not math.isfinite(weight)
                    or weight < 0):
                raise ValueError(f"class_weight[{cls!r}] must be a finite number >= 0, got {weight!r}.")
        labels = y.argmax(dim=-1) if y.dim() > 1 and y.shape[-1] > 1 else y.reshape(len(y), -1)[:, 0]
        # Sized by the labels present: a weight for a class no sample has changes nothing
        table = torch.ones(int(labels.max().item()) + 1, dtype=torch.float32)
        for cls, weight in class_weight.items():
            if cls < len(table):
                table[int(cls)] = float(weight)
        return table.to(labels.device)[labels.long()]

    # ------------------------------------------------------------------------------------- steps
    def train_step(self, x: Any, y: Any, sample_weight: Any = None) -> torch.Tensor:
        """One optimisation step on one batch; returns the batch loss (a 0-d tensor). A step too
        small to split across threads runs on one (see `one_thread_for_small_steps`). The models
        `WholeStep` covers train in one function, without the layer-by-layer path."""
        with one_thread_for_small_steps(x, self.optimizer):
            # WholeStep starts from zero states: not for the chunks of truncated BPTT, which carry them.
            whole_step = None if carrying_active() else WholeStep.of(self, x, y, sample_weight)
            if whole_step is not None:
                loss, outputs = whole_step.run(x, y)
                self._update_metrics(loss, [y], [outputs], sample_weight)
                return loss
            # Under torchrun the DistributedDataParallel wrapper runs the forward pass, so that the
            # backward pass averages the gradients of all processes.
            outputs = (self if self._parallel is None else self._parallel.ddp)(x, training=True)
            loss, targets, outputs = self._compute_loss(y, outputs, sample_weight)
            if not loss.requires_grad:
                raise ValueError("The loss does not depend on any trainable weight; check that the model has some.")
            self.optimizer.zero_grad(set_to_none=True)
            scale_loss = getattr(self.optimizer, "scale_loss", None)  # a LossScaleOptimizer (float16)
            (loss if scale_loss is None else scale_loss(loss)).backward()
            if self._grad_norm_trackers:
                self._track_grad_norms()
            self.optimizer.step()
            self.apply_constraints()
            self._update_metrics(loss, targets, outputs, sample_weight)
        return loss

    def _track_grad_norms(self):
        """Gradient norms before clipping: the global one and one per recurrent layer."""
        with torch.no_grad():
            for tracker, params in self._grad_norm_trackers:
                grads = [p.grad for p in params if p.grad is not None]
                if grads:
                    tracker.update_state(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])))

    def _grad_norm_setup(self, enabled):
        self._grad_norm_trackers = []
        if not enabled:
            return
        trainable = [p for p in self.parameters() if p.requires_grad]
        self._grad_norm_trackers.append((metrics_module.Mean(name="grad_norm"), trainable))
        for layer in self._recurrent_layers():
            params = [p for p in layer.parameters() if p.requires_grad]
            self._grad_norm_trackers.append((metrics_module.Mean(name=f"grad_norm_{layer.name}"), params))

    def _recurrent_layers(self):
        """The outermost recurrent layers (a Bidirectional counts as one)."""
        found = []

        def walk(module):
            for child in module.children():
                if isinstance(child, (RNN, Bidirectional)):
                    found.append(child)
                else:
                    walk(child)

        walk(self)
        return found

    def _bptt_train_step(self, x, y, sample_weight, steps):
        """Truncated BPTT on one batch: the sequences are cut into chunks of `steps` time steps; the
        recurrent state flows from chunk to chunk but gradients stop at chunk borders. With per-step
        targets (y with the same time axis as x) every chunk is a training step on its own targets;
        with one target per sequence the earlier chunks only advance the state and the last trains."""
        length = x.shape[1]
        per_step = y is not None and y.dim() >= 2 and y.shape[1] == length and (y.dim() > 2 or length > 1)
        with self._carried_states():
            for start in range(0, length, steps):
                chunk = slice(start, start + steps)
                last = start + steps >= length
                if per_step:
                    weight = sample_weight[:, chunk] if sample_weight is not None and sample_weight.dim() > 1 else sample_weight
                    self.train_step(x[:, chunk], y[:, chunk], weight)
                elif last:
                    self.train_step(x[:, chunk], y, sample_weight)
                else:
                    with torch.no_grad():
                        self(x[:, chunk], training=True)

    @contextlib.contextmanager
    def _carried_states(self):
        """Makes every recurrent layer carry its state between calls for one batch (a stateful model's
        layers keep theirs across batches, as stateful layers do)."""
        layers = self._recurrent_layers()
        if any(isinstance(layer, Bidirectional) or layer.go_backwards for layer in layers):
            raise ValueError(
                "bptt_steps needs recurrent layers that run forwards in time; Bidirectional and go_backwards "
                "layers see the future of a chunk, which truncated BPTT cannot carry."
            )
        with carrying_states(layers, restore=False):
            yield

    def test_step(self, x: Any, y: Any, sample_weight: Any = None) -> torch.Tensor:
        with torch.no_grad():
            outputs = self(x, training=False)
            loss, targets, outputs = self._compute_loss(y, outputs, sample_weight)
        self._update_metrics(loss, targets, outputs, sample_weight)
        return loss

    # --------------------------------------------------------------------------------------- fit
    def fit(
        self, x: Any = None, y: Any = None, batch_size: int | None = None, epochs: int = 1, verbose: int | str = "auto",
        callbacks: Sequence[Callback] | None = None, validation_split: float = 0.0, validation_data: Any = None,
        shuffle: bool = True, class_weight: Mapping[int, float] | None = None, sample_weight: Any = None,
        initial_epoch: int = 0, steps_per_epoch: int | None = None, validation_steps: int | None = None,
        validation_batch_size: int | None = None, validation_freq: int = 1, bptt_steps: int | None = None,
        log_grad_norm: bool = False,
    ) -> History:
        """Trains the model; returns a `History` whose `.history` maps "loss", each metric and
        their "val_" forms to per-epoch values. Arguments as Keras's `Model.fit`, plus:

        Args:
            bptt_steps: truncated backpropagation through time: cut each batch's sequences into
                chunks of this many steps, carry the recurrent state from chunk to chunk and stop
                gradients between them (one optimizer step per chunk with per-step targets). A
                stateful model keeps its batches in order (no shuffling) and its state across them.
            log_grad_norm: record the gradient norm before clipping, averaged over each epoch, as
                "grad_norm" and "grad_norm_<layer>" for each recurrent layer, in the History and
                the progress line: vanishing gradients show as norms near 0, exploding ones as
                large or growing norms.
        """
        self._require_compiled("fit")
        epochs = check_scalar(epochs, "epochs", int, min_val=0)
        bptt_steps = check_scalar(bptt_steps, "bptt_steps", int, min_val=1, or_none="whole sequences")
        if bptt_steps is not None and any(layer.stateful for layer in self._recurrent_layers()):
            shuffle = False  # a stateful model's batch i+1 continues batch i's sequences
        device = self._device()
        batch_size = 32 if batch_size is None else batch_size
        float_dtype = self._float_dtype()
        train = batches_for(x, y, sample_weight, batch_size, shuffle, steps_per_epoch, device, float_dtype)
        val = None
        if isinstance(train, ArrayBatches):
            check_finite("x", train.x)
            if train.y is not None:
                check_finite("y", train.y)
            if validation_split and validation_data is None:
                (tx, ty, tw), (vx, vy, vw) = train.split(validation_split)
                train = ArrayBatches(tx, ty, tw, batch_size, shuffle, steps_per_epoch, device, float_dtype)
                val = ArrayBatches(vx, vy, vw, validation_batch_size or batch_size, False, validation_steps, device,
                                   float_dtype)
            if class_weight is not None:
                if train.y is None or isinstance(train.y, (list, tuple, dict)):
                    raise ValueError("class_weight needs a single array of labels y.")
                weights = self._class_sample_weight(train.y, class_weight)
                train.sample_weight = weights if train.sample_weight is None else train.sample_weight * weights
        elif validation_split:
            raise ValueError("validation_split needs array data; pass validation_data for generators and DataLoaders.")
        if validation_data is not None:
            val = self._validation_batches(validation_data, validation_batch_size or batch_size, validation_steps,
                                           device, float_dtype)
            if isinstance(val, ArrayBatches):
                check_finite("validation x", val.x)
                if val.y is not None:
                    check_finite("validation y", val.y)

        self._ensure_ready(train.first()[0])
        self._grad_norm_setup(log_grad_norm)
        self.stop_training = False
        # Under torchrun: DistributedDataParallel, and each process trains on its shard of the data
        self._parallel = distributed.DataParallel.start(self, training=True, callbacks=callbacks)
        try:
            if self._parallel is not None:
                train, val = self._parallel.shard(train, training=True), self._parallel.shard(val, training=False)
            verbose = resolve_verbose(verbose)
            callback_list = CallbackList(
                callbacks, model=self, add_history=True, add_progbar=verbose != 0, verbose=verbose,
                epochs=epochs, steps=len(train) or None,
            )
            callback_list.on_train_begin()
            # BackupAndRestore, having restored a backup, says where to continue.
            initial_epoch = max(initial_epoch, getattr(self, "_resume_epoch", 0))
            self._resume_epoch = 0
            for epoch in range(initial_epoch, epochs):
                self._reset_metrics()
                callback_list.on_epoch_begin(epoch)
                for step, (bx, by, bw) in enumerate(train):
                    callback_list.on_train_batch_begin(step)
                    if bptt_steps is None:
                        self.train_step(bx, by, bw)
                    else:
                        self._bptt_train_step(bx, by, bw, bptt_steps)
                    logs = self._logs(training=True) if callback_list.reads_train_batch_logs else None
                    callback_list.on_train_batch_end(step, logs)
                    if distributed.stop_requested(self, within_epoch=True):
                        break
                epoch_logs = self._final_logs(self._parallel, training=True)
                if val is not None and (epoch + 1) % validation_freq == 0:
                    val_logs = self._run_evaluation(val, callback_list, self._parallel)
                    epoch_logs.update({"val_" + k: v for k, v in val_logs.items()})
                callback_list.on_epoch_end(epoch, epoch_logs)
                if distributed.stop_requested(self):
                    break
            callback_list.on_train_end()
            return callback_list.history
        finally:
            # Also when a callback or an interrupt ends the fit: a DistributedDataParallel wrapper kept on
            # the model would hold the process group past its destruction (distributed._shut_down).
            self._grad_norm_trackers = []
            self._parallel = None

    def _validation_batches(self, data, batch_size, steps, device, float_dtype):
        if isinstance(data, (list, tuple)) and len(data) in (2, 3) and all(
            d is None or not hasattr(d, "__next__") for d in data
        ):
            vx, vy, vw = (list(data) + [None])[:3]
            return batches_for(vx, vy, vw, batch_size, False, steps, device, float_dtype)
        return batches_for(data, None, None, batch_size, False, steps, device, float_dtype)

    def _run_evaluation(self, batches, callback_list, parallel=None):
        self._reset_metrics()
        if callback_list is not None:
            callback_list.on_test_begin()
        for step, (bx, by, bw) in enumerate(batches):
            if callback_list is not None:
                callback_list.on_test_batch_begin(step)
            if by is None:
                raise ValueError("evaluate() needs targets y (or a generator yielding (x, y)).")
            self.test_step(bx, by, bw)
            if callback_list is not None:
                callback_list.on_test_batch_end(step, self._logs())
        logs = self._final_logs(parallel)
        if callback_list is not None:
            callback_list.on_test_end(logs)
        return logs

    # ---------------------------------------------------------------------------------- evaluate
    def evaluate(
        self, x: Any = None, y: Any = None, batch_size: int | None = None, verbose: int | str = "auto",
        sample_weight: Any = None, steps: int | None = None, callbacks: Sequence[Callback] | None = None,
        return_dict: bool = False,
    ) -> float | list[float] | dict[str, float]:
        """Loss and metrics on the given data: a float, a list [loss, *metrics], or a dict with
        return_dict=True, as Keras."""
        self._require_compiled("evaluate")
        batches = batches_for(x, y, sample_weight, 32 if batch_size is None else batch_size, False, steps,
                              self._device(), self._float_dtype())
        self._ensure_ready(batches.first()[0])
        parallel = distributed.DataParallel.start(self, training=False)  # under torchrun: a shard each
        if parallel is not None:
            batches = parallel.shard(batches, training=False)
        verbose = resolve_verbose(verbose)
        callback_list = CallbackList(callbacks, model=self, add_progbar=verbose != 0, verbose=verbose, steps=len(batches) or None)
        logs = self._run_evaluation(batches, callback_list, parallel)
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    # ----------------------------------------------------------------------------------- predict
    def predict(
        self, x: Any, batch_size: int | None = None, verbose: int | str = "auto", steps: int | None = None,
        callbacks: Sequence[Callback] | None = None,
    ) -> np.ndarray | list[np.ndarray] | dict[str, np.ndarray]:
        """Outputs for x, batch by batch under torch.inference_mode: numpy in, numpy out (a list or
        dict of arrays for several outputs)."""
        batches = batches_for(x, None, None, 32 if batch_size is None else batch_size, False, steps,
                              self._device(), self._float_dtype())
        verbose = resolve_verbose(verbose)
        callback_list = CallbackList(callbacks, model=self, add_progbar=verbose != 0, verbose=verbose, steps=len(batches) or None)
        callback_list.on_predict_begin()
        collected = []
        with torch.inference_mode():
            for step, (bx, _, _) in enumerate(batches):
                callback_list.on_predict_batch_begin(step)
                outputs = self(bx, training=False)
                collected.append(_outputs_list(outputs))
                callback_list.on_predict_batch_end(step, {"outputs": outputs})
        callback_list.on_predict_end()
        arrays = [_to_numpy(torch.cat(parts)) for parts in zip(*collected)]
        return arrays[0] if len(arrays) == 1 else arrays

    # ----------------------------------------------------------------------------- on_batch calls
    def train_on_batch(
        self, x: Any, y: Any = None, sample_weight: Any = None, class_weight: Mapping[int, float] | None = None,
        return_dict: bool = False,
    ) -> float | list[float] | dict[str, float]:
        """One training step on one batch; returns the loss and metrics (of this batch only)."""
        self._require_compiled("train_on_batch")
        # Asked once, in one walk over the weights (~3 us a walk, which a small model's step pays at every batch).
        device, dtype = self._device_and_float_dtype()
        x, y, sample_weight = (to_tensors(d, device, dtype) for d in (x, y, sample_weight))
        if class_weight is not None:
            weights = self._class_sample_weight(y, class_weight)
            sample_weight = weights if sample_weight is None else sample_weight * weights
        self._ensure_ready(x)
        self._reset_metrics()
        self.train_step(x, y, sample_weight)
        return self._batch_result(return_dict)

    def test_on_batch(
        self, x: Any, y: Any = None, sample_weight: Any = None, return_dict: bool = False
    ) -> float | list[float] | dict[str, float]:
        """Loss and metrics of one batch, without training."""
        self._require_compiled("test_on_batch")
        device, dtype = self._device_and_float_dtype()
        x, y, sample_weight = (to_tensors(d, device, dtype) for d in (x, y, sample_weight))
        self._ensure_ready(x)
        self._reset_metrics()
        self.test_step(x, y, sample_weight)
        return self._batch_result(return_dict)

    def predict_on_batch(self, x: Any) -> np.ndarray | list[np.ndarray] | dict[str, np.ndarray]:
        """Outputs for one batch, as numpy."""
        with torch.inference_mode():
            outputs = _outputs_list(self(to_tensors(x, self._device(), self._float_dtype()), training=False))
        arrays = [_to_numpy(o) for o in outputs]
        return arrays[0] if len(arrays) == 1 else arrays

    def _batch_result(self, return_dict):
        logs = {k: float(v) for k, v in self._logs().items()}
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

