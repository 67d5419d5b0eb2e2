"""Data-parallel training across the processes of a `torchrun` launch.

Nothing changes in the user's code: the same `model.fit(...)` that trains in one process trains
data-parallel when the program is started by `torchrun` (seen from the WORLD_SIZE, RANK and
LOCAL_RANK variables it sets, or from a process group the program initialised itself):

- the process group is initialised if the program has not done it (gloo on CPU; for a model on a
  GPU each process takes GPU `LOCAL_RANK`, with NCCL for tensors on it and gloo for small flags);
- the model is wrapped in `torch.nn.parallel.DistributedDataParallel`, which starts every process
  from the first one's weights and averages the gradients in each backward pass;
- `batch_size` stays the *global* batch, as in Keras's distributed training: each of N processes
  trains on `batch_size / N` samples per step (so it must be a multiple of N), and N processes
  take the same optimizer steps as one process would with the same `batch_size`;
- array data is sharded as `torch.utils.data.DistributedSampler` does: each epoch one order of all
  samples (shuffled with a seed drawn from the first process's random generator, so every process
  agrees and BackupAndRestore's restored random state repeats the order), *padded* by repeating
  its first samples up to a multiple of N, and process r takes every N-th sample from the r-th.
  With a sample count that is a multiple of N nothing is repeated and the run takes the same steps
  as one process; otherwise up to N-1 samples count twice in the last step of an epoch.
  Validation and `evaluate` shard without padding: every sample counts once;
- epoch losses and metrics are those of all processes together: their metric states (totals and
  counts, confusion counts) are summed across processes before the means are taken, so every
  process logs the same numbers and callbacks that decide (EarlyStopping, ReduceLROnPlateau)
  decide alike; a stop requested on any process (TerminateOnNaN) stops all of them at once;
- only the first process (rank 0) shows progress and writes files: the progress bar, callback
  messages, ModelCheckpoint, CSVLogger, BackupAndRestore and `rnnkit.tasks.RunDirectory` are
  silent elsewhere; every process reads a backup when resuming, so on several machines `--out` (or
  the backup folder) must be on a file system that all of them see.

Generators and DataLoaders are not sharded here: each process should yield its own part of the
data (a DataLoader with a DistributedSampler); an epoch ends for all when any process runs out.
`predict` runs whole in every process. BatchNormalization uses each process's batch statistics.

Launch on one machine with `rnnkit <command> ... --nproc N` or `torchrun --standalone
--nproc-per-node N your_script.py`; on several machines run on each of them::

    torchrun --nnodes 2 --nproc-per-node 4 --rdzv-backend c10d --rdzv-endpoint HOST:29500 \\
        --rdzv-id my-run -m rnnkit forecast data.csv --out /shared/runs/forecast

where HOST is the address of one of the machines (the same on all of them).
"""
from __future__ import annotations

import atexit
import gc
import math
import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from ..engine.nest import flatten, map_structure
from .data_adapter import ArrayBatches

if TYPE_CHECKING:
    from ..models.model import Model
    from .callbacks.base import Callback
    from .data_adapter import IterableBatches
    from .metrics import Metric

__all__ = [
    "is_launched", "rank", "world_size", "is_main_process", "barrier", "gather_to_main", "DataParallel",
    "stop_requested", "launch",
]

# A gloo group for CPU flags when the default group cannot carry them (a user's NCCL-only group).
_control_groups = {}


def is_launched() -> bool:
    """Whether this process is one of the processes of a torchrun launch (or of a process group the
    program initialised itself), so that `fit` trains data-parallel."""
    if dist.is_available() and dist.is_initialized():
        return True
    return all(name in os.environ for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"))


def rank() -> int:
    """This process's rank: 0 for the first process of a launch, and in a single process."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return int(os.environ["RANK"]) if is_launched() else 0


def world_size() -> int:
    """The number of processes of the launch (1 in a single process)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return int(os.environ["WORLD_SIZE"]) if is_launched() else 1


def is_main_process() -> bool:
    """Whether this process shows progress and writes files: rank 0, or the only process."""
    return rank() == 0


def _active():
    return dist.is_available() and dist.is_initialized()


def _control_group():
    """The group for small CPU tensors (flags, seeds, objects): the default one when it has gloo."""
    if "gloo" in str(dist.get_backend()):
        return None
    default = dist.group.WORLD
    if default not in _control_groups:
        _control_groups[default] = dist.new_group(backend="gloo")
    return _control_groups[default]


def barrier() -> None:
    """Waits until every process gets here (returns at once in a single process)."""
    if _active():
        dist.barrier(group=_control_group())


def gather_to_main(value: Any) -> list[Any] | None:
    """Collects a picklable `value` from every process: the list by rank on rank 0, None on the
    others; `[value]` in a single process. Every process must call it."""
    if not _active():
        return [value]
    gathered = [None] * dist.get_world_size() if dist.get_rank() == 0 else None
    dist.gather_object(value, gathered, dst=0, group=_control_group())
    return gathered


def _any_process(flag):
    """Whether `flag` is true in any process (every process must call it)."""
    value = torch.tensor([1 if flag else 0], dtype=torch.int32)
    dist.all_reduce(value, op=dist.ReduceOp.MAX, group=_control_group())
    return bool(value.item())


def stop_requested(model: Model, within_epoch: bool = False) -> bool:
    """Whether training should stop now: `model.stop_training`, or under torchrun whether a
    callback asked for it in any process (then set in all), so that all stop at the same step.

    Args:
        model: the model being trained.
        within_epoch: asked after a batch: the processes agree only when the fit has callbacks
            (only they stop mid-epoch), sparing a collective per batch when it has none.
    """
    parallel = model._parallel
    if parallel is None or (within_epoch and not parallel.callbacks_may_stop):
        return model.stop_training
    model.stop_training = _any_process(model.stop_training)
    return model.stop_training


def _init_process_group(device):
    """Initialises the default process group from torchrun's variables, unless the program did."""
    if dist.is_initialized():
        return
    missing = [name for name in ("MASTER_ADDR", "MASTER_PORT") if name not in os.environ]
    if missing:
        raise ValueError(
            f"WORLD_SIZE, RANK and LOCAL_RANK are set, so rnnkit trains data-parallel, but {' and '.join(missing)} "
            "are not: start the program with torchrun (or `rnnkit ... --nproc N`), which sets them all."
        )
    backend = "cpu:gloo,cuda:nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend=backend, device_id=device if device.type == "cuda" else None)
    atexit.register(_shut_down)


def _shut_down():
    """At exit, while the interpreter is still whole: destroys the process group and collects the
    garbage that may still hold it (a model from an interrupted fit, with its DistributedDataParallel),
    so that the group is freed and gloo's worker threads are joined now. A worker thread left running
    into interpreter finalization that drops the last reference to a finished collective's tensors
    needs the GIL and aborts the process ("terminate called without an active exception"); on a busy
    machine that happened in about one exit in five."""
    if dist.is_initialized():
        dist.destroy_process_group()
    gc.collect()


def _process_device(model):
    """The device this process trains on: the CPU, or for a model on a GPU, GPU LOCAL_RANK."""
    device = model._device()
    if device.type != "cuda":
        return device
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    available = torch.cuda.device_count()
    if local_rank >= available:
        raise ValueError(
            f"process {rank()} (LOCAL_RANK {local_rank}) has no GPU of its own: this machine has {available}. "
            f"Start at most {available} processes per machine (--nproc / torchrun --nproc-per-node)."
        )
    return torch.device("cuda", local_rank)


class DataParallel:
    """One `fit` or `evaluate` across the processes of a launch; made by `DataParallel.start`.

    Args:
        model: the built, compiled model. It is moved to this process's device.
        training: wrap the model in DistributedDataParallel (for `fit`; `evaluate` needs no
            gradients and only shards the data and sums the metric states).
        callbacks: the callbacks given to `fit`: with some, the processes agree after every
            batch on whether to stop (see `stop_requested`).

    Attributes:
        ddp: the DistributedDataParallel wrapper the training step calls (None for evaluation).
        rank, world_size, device: this process's rank, the process count and the device.
    """

    def __init__(self, model: Model, training: bool, callbacks: Sequence[Callback] | None = None) -> None:
        self.device = _process_device(model)
        _init_process_group(self.device)
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        model.to(self.device)
        self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        self.callbacks_may_stop = bool(callbacks)
        self.ddp = None
        if training:
            # static_graph: the layers a model uses never change between steps, and DDP then also
            # copes with weights that no loss reaches (an output trained without a loss).
            self.ddp = DistributedDataParallel(
                model, device_ids=[self.device] if self.device.type == "cuda" else None, static_graph=True,
            )

    @classmethod
    def start(cls, model: Model, training: bool, callbacks: Sequence[Callback] | None = None) -> DataParallel | None:
        """A `DataParallel` when the program runs under torchrun, else None (train as usual)."""
        return cls(model, training, callbacks) if is_launched() else None

    def shard(self, batches: ArrayBatches | IterableBatches | None, training: bool) -> Iterable[Any] | None:
        """This process's part of `batches` (the ArrayBatches or IterableBatches that fit and
        evaluate build; None stays None): see the module docstring for how arrays are split."""
        if batches is None:
            return None
        if isinstance(batches, ArrayBatches):
            return ShardedBatches(batches, self, training)
        batches.device = self.device
        return _Lockstep(batches, self) if training else batches

    def reduce_metrics(self, metrics: Sequence[Metric]) -> None:
        """Sums the state tensors of `metrics` over all processes, in place, in one collective: the
        results (total / count, rates from confusion counts) are then those of all the data."""
        states = []
        for metric in metrics:
            metric._move_state_to(self.device)  # a process with no samples never moved them
            states.extend(getattr(metric, name) for name in metric._state_names)
        if not states:
            return
        packed = torch.cat([state.reshape(-1) for state in states])
        dist.all_reduce(packed, op=dist.ReduceOp.SUM)
        offset = 0
        for state in states:
            state.copy_(packed[offset:offset + state.numel()].view_as(state))
            offset += state.numel()

    def shuffle_seed(self) -> int:
        """A seed for this epoch's order, drawn from rank 0's torch generator and shared by all."""
        seed = torch.randint(0, 2**62, (1,), dtype=torch.int64) if self.rank == 0 else torch.zeros(1, dtype=torch.int64)
        dist.broadcast(seed, src=0, group=_control_group())
        return int(seed.item())


class ShardedBatches:
    """One process's batches over in-memory arrays, as `DataParallel.shard` makes them.

    Training: each epoch's order of all samples (shuffled or not, as the ArrayBatches was) is padded
    to a multiple of the process count and process r takes samples r, r+N, r+2N, ...; batches of
    `batch_size / N` samples, the same number of steps as one process takes. Evaluation: the
    samples one process would visit, split the same way without padding, in batches of
    `ceil(batch_size / N)`.
    """

    def __init__(self, batches: ArrayBatches | IterableBatches | None, parallel: DataParallel, training: bool) -> None:
        self.parallel, self.training = parallel, training
        world = parallel.world_size
        self.x, self.y, self.sample_weight = (
            None if data is None else map_structure(lambda v: v.to(parallel.device), data)
            for data in (batches.x, batches.y, batches.sample_weight)
        )
        self.count, self.shuffle = batches.count, batches.shuffle and training
        if training:
            if batches.batch_size % world:
                lower = batches.batch_size - batches.batch_size % world
                suggestion = f"{lower} or {lower + world}" if lower else str(world)
                raise ValueError(
                    f"batch_size={batches.batch_size} is the global batch, split over the {world} training processes, "
                    f"so it must be a multiple of {world}; pass batch_size (--batch-size) {suggestion}."
                )
            self.batch_size, self.steps = batches.batch_size // world, batches.steps
            self.order = None
        else:
            visited = [
                torch.arange(start, min(start + batches.batch_size, self.count))
                for start in ((step * batches.batch_size) % self.count for step in range(batches.steps))
            ]
            self.order = torch.cat(visited)[parallel.rank::world]
            self.batch_size = math.ceil(batches.batch_size / world)
            self.steps = math.ceil(len(self.order) / self.batch_size)

    def __len__(self):
        return self.steps

    def _epoch_shard(self):
        """This process's samples for one epoch (DistributedSampler's layout, padded)."""
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.parallel.shuffle_seed())
            order = torch.randperm(self.count, generator=generator)
        else:
            order = torch.arange(self.count)
        world = self.parallel.world_size
        padding = -self.count % world
        if padding:
            order = torch.cat([order, order.repeat(math.ceil(padding / self.count))[:padding]])
        return order[self.parallel.rank::world]

    def __iter__(self):
        shard = self._epoch_shard() if self.training else self.order
        device = flatten(self.x)[0].device
        for step in range(self.steps):
            start = (step * self.batch_size) % len(shard)
            index = shard[start:start + self.batch_size].to(device)
            yield tuple(
                None if data is None else map_structure(lambda v: v[index], data)
                for data in (self.x, self.y, self.sample_weight)
            )


class _Lockstep:
    """Training batches from a generator or DataLoader, ended for every process as soon as one runs
    out: DistributedDataParallel needs all processes to take the same number of steps."""

    def __init__(self, batches, parallel):
        self.batches, self.parallel = batches, parallel

    def __len__(self):
        return len(self.batches)

    def __iter__(self):
        iterator = iter(self.batches)
        while True:
            batch = next(iterator, None)
            if _any_process(batch is None):
                return
            yield batch


def launch(nproc: int, arguments: Sequence[str]) -> int:
    """Runs `python -m rnnkit <arguments>` in `nproc` processes on this machine, as
    `torchrun --standalone --nproc-per-node <nproc> -m rnnkit <arguments>` does (what
    `rnnkit ... --nproc N` calls).

    Each process gets OMP_NUM_THREADS = CPU cores / nproc unless it is set already.

    Args:
        nproc: the number of processes (>= 1).
        arguments: the rnnkit command line, without --nproc.

    Returns:
        0 when every process succeeded, else the exit code of the first process that failed
        (128 + the signal number for a process killed by a signal).
    """
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    if "OMP_NUM_THREADS" not in os.environ:
        os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // nproc))
    options = get_args_parser().parse_args(
        ["--standalone", "--nproc-per-node", str(nproc), "-m", "rnnkit", *arguments]
    )
    try:
        run(options)
    except ChildFailedError as error:
        _, failure = error.get_first_failure()
        return failure.exitcode if failure.exitcode > 0 else 128 - failure.exitcode
    except SignalException as error:
        return 128 + int(error.sigval)
    return 0
