"""Functional models: `Model(inputs, outputs)` over the graph that calling layers on `Input`s
recorded (see `rnnkit.models.symbolic`).

The graph is mapped as Keras maps it: a depth-first walk back from the outputs orders the nodes
from the inputs to the outputs (the order they run in), and the layers are listed by decreasing
depth, ties in the order the walk met them, so `model.layers` and `get_weights()` follow
Keras's order. Calling the model runs each node on real tensors: masks ride on the tensors,
`initial_state=` and `return_state=True` work as in eager calls, a layer called twice (shared)
runs twice with the same weights.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
import torch

from ..layers.base import Layer
from ..layers.core import Embedding
from ..layers.plan import model_fold
from ..layers.serialization import deserialize_layer, register_serializable, serialize_layer
from ..engine.nest import flatten, pack_as
from .model import Model, with_mask
from .symbolic import STRING, InputLayer, KerasTensor, dtype_name, format_shape, takes_token_ids


def _as_list(structure, what):
    if isinstance(structure, dict):
        raise ValueError(f"Model {what} as a dict are not supported: pass one tensor or a list.")
    return list(structure) if isinstance(structure, (list, tuple)) else [structure]


@register_serializable
class Functional(Model):
    """A model defined by a graph of layer calls: `Model(inputs, outputs)` returns one.

    Args:
        inputs: an `rnnkit.Input(...)` tensor, or a list of them.
        outputs: a symbolic tensor computed from `inputs`, or a list of them.
        name: optional name (default `functional`, `functional_1`, ...).

    Call arguments:
        inputs: a tensor (one input), or a list (or dict by input name) with one tensor per input;
            numpy arrays are converted. Several inputs may also be passed as positional arguments.
        training: passed to every layer that takes it (dropout); None leaves each layer's default.
        mask: optional mask, or list with one per input, set on the inputs.

    Returns: one tensor, or a list (tuple) of tensors when `outputs` was a list (tuple).

    Example (the seeds' encoder-decoder):
        >>> encoder_inputs = Input(shape=(None,))
        >>> decoder_inputs = Input(shape=(None,))
        >>> encoded = Embedding(1000, 64)(encoder_inputs)
        >>> _, state_h, state_c = LSTM(64, return_state=True)(encoded)
        >>> decoded = LSTM(64)(Embedding(2000, 64)(decoder_inputs), initial_state=[state_h, state_c])
        >>> model = Model([encoder_inputs, decoder_inputs], Dense(10)(decoded))
        >>> model.count_params()
        258698
    """

    def __init__(self, inputs: Any, outputs: Any, name: str | None = None, trainable: bool = True) -> None:
        super().__init__(name=name, trainable=trainable)
        self._single_input = not isinstance(inputs, (list, tuple, dict))
        self._output_type = None if not isinstance(outputs, (list, tuple, dict)) else type(outputs)
        self._inputs = _as_list(inputs, "inputs")
        self._outputs = _as_list(outputs, "outputs")
        self._check_endpoints()
        self._nodes, self._layers = _map_graph(self.name, self._inputs, self._outputs)
        names = [layer.name for layer in self._layers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"Model '{self.name}': layer names must be unique, {duplicates} appear more than once.")
        for layer in self._layers:
            if not isinstance(layer, InputLayer):
                _register(self, layer)
        self._node_index = _node_indices(self._nodes)
        self._fold_consumers = _fold_consumers(self._nodes, self._outputs)
        self.built = True
        if not trainable:
            self.trainable = False  # freezes the layers too

    def _check_endpoints(self):
        for x in self._inputs:
            if not isinstance(x, KerasTensor):
                raise ValueError(
                    f"Model '{self.name}': inputs must be symbolic tensors from rnnkit.Input(...), "
                    f"got {type(x).__name__}."
                )
            if not x.node.is_input:
                raise ValueError(
                    f"Model '{self.name}': input {x!r} is the output of layer '{x.node.layer.name}'; "
                    "inputs must be the rnnkit.Input(...) tensors the graph starts from."
                )
        if len({id(x) for x in self._inputs}) != len(self._inputs):
            raise ValueError(f"Model '{self.name}': the same Input appears twice in inputs.")
        for y in self._outputs:
            if not isinstance(y, KerasTensor):
                raise ValueError(
                    f"Model '{self.name}': outputs must be symbolic tensors made by calling layers on "
                    f"rnnkit.Input(...) tensors, got {type(y).__name__}."
                )

    # ------------------------------------------------------------------------------ properties
    @property
    def layers(self) -> list[Layer]:
        return list(self._layers)

    @property
    def inputs(self) -> list[KerasTensor]:
        return list(self._inputs)

    @property
    def outputs(self) -> list[KerasTensor]:
        return list(self._outputs)

    @property
    def input_shape(self) -> tuple[int | None, ...] | list[tuple[int | None, ...]]:
        shapes = [x.shape for x in self._inputs]
        return shapes[0] if self._single_input else shapes

    @property
    def output_shape(self) -> tuple[int | None, ...] | list[tuple[int | None, ...]]:
        shapes = [y.shape for y in self._outputs]
        return shapes if self._output_type else shapes[0]

    def token_id_inputs(self) -> list[bool]:
        consumers = defaultdict(bool)
        for node in self._nodes:
            if node.args:
                for leaf in flatten(node.args[0]):
                    if isinstance(leaf, KerasTensor) and takes_token_ids(node.layer):
                        consumers[id(leaf)] = True
        return [consumers[id(x)] for x in self._inputs]

    # ------------------------------------------------------------------------------------- calls
    def call(self, *inputs, training: bool | None = None, mask: Any = None) -> Any:
        values = dict(zip(map(id, self._inputs), self._check_inputs(inputs, mask)))
        folds = {}  # consumer node id -> the Fold of the Embedding output it alone reads
        for node in self._nodes:
            leaves = [values[id(leaf)] if isinstance(leaf, KerasTensor) else leaf for leaf in node.call_leaves]
            args, kwargs = pack_as(node.call_structure, leaves)
            if training is not None and node.takes_training:
                kwargs["training"] = training
            if id(node) in folds:
                kwargs["_fold"] = folds.pop(id(node))
            outputs = node.layer(*args, **kwargs)
            consumer = self._fold_consumers.get(id(node))
            fold = None if consumer is None else model_fold(node.layer, args[0], outputs, consumer.layer)
            if fold is not None:
                folds[id(consumer)] = fold
            for symbolic, value in zip(node.flat_outputs, flatten(outputs)):
                values[id(symbolic)] = value
        results = [values[id(y)] for y in self._outputs]
        if self._output_type is None:
            return results[0]
        return tuple(results) if self._output_type is tuple else results

    def _check_inputs(self, inputs, mask):
        names = [x.node.layer.name for x in self._inputs]
        if len(inputs) == 1:
            inputs = inputs[0]
        if isinstance(inputs, dict):
            missing = [n for n in names if n not in inputs]
            if missing or len(inputs) != len(names):
                raise ValueError(
                    f"Model '{self.name}' expects inputs named {names}, got a dict with keys {sorted(inputs)}."
                )
            inputs = [inputs[n] for n in names]
        elif not isinstance(inputs, (list, tuple)):
            inputs = [inputs]
        if len(inputs) != len(self._inputs):
            raise ValueError(
                f"Model '{self.name}' expects {len(self._inputs)} input(s) {names}, got {len(inputs)}."
            )
        inputs = [self._as_tensors(x) for x in inputs]
        for x, symbolic, name in zip(inputs, self._inputs, names):
            text_input = symbolic.dtype == STRING and isinstance(x, np.ndarray)
            if not isinstance(x, torch.Tensor) and not text_input:
                raise ValueError(f"Model '{self.name}': input '{name}' should be a tensor, got {type(x).__name__}.")
            if x.ndim != symbolic.ndim:
                raise ValueError(
                    f"Model '{self.name}': input '{name}' expects shape {format_shape(symbolic.shape)}, "
                    f"got {tuple(x.shape)}."
                )
        if mask is not None:
            masks = mask if isinstance(mask, (list, tuple)) and len(self._inputs) > 1 else [mask]
            inputs = [with_mask(x, m) for x, m in zip(inputs, masks)]
        return inputs

    # ----------------------------------------------------------------------------------- summary
    def _nodes_by_layer(self):
        """Each layer's calls in this model, in node-index order."""
        nodes_by_layer = defaultdict(list)
        for node in sorted(self._nodes, key=lambda n: n.order):
            nodes_by_layer[id(node.layer)].append(node)
        return nodes_by_layer

    def summary_rows(self) -> tuple[list[tuple[Layer, str, str | None]], bool]:
        nodes_by_layer = self._nodes_by_layer()
        rows = []
        for layer in self._layers:
            if isinstance(layer, InputLayer):
                rows.append((layer, format_shape(layer.batch_shape), "-"))
                continue
            nodes = nodes_by_layer[id(layer)]
            shapes = [format_shape(y.shape) for y in nodes[-1].flat_outputs]
            shape = shapes[0] if len(shapes) == 1 else "[" + ", ".join(shapes) + "]"
            links = [self._history(x) for node in nodes for x in node.inputs]
            rows.append((layer, shape, ", ".join(f"{n}[{i}][{t}]" for n, i, t in links) or "-"))
        return rows, not self._is_chain(nodes_by_layer)

    def _is_chain(self, nodes_by_layer):
        """Keras prints a functional model without "Connected to" when it is a plain chain: one
        input, each layer called once on one tensor."""
        return (
            len(self._inputs) == 1
            and all(len(nodes) == 1 for nodes in nodes_by_layer.values())
            and all(len(node.inputs) == 1 for node in self._nodes)
            and len({id(x) for node in self._nodes for x in node.inputs}) == len(self._nodes)
            and len(self._outputs) == 1
        )

    def _history(self, tensor):
        """Keras's `keras_history` of a tensor within this model: [layer name, node index, tensor index]."""
        return [tensor.node.layer.name, self._node_index.get(id(tensor.node), 0), tensor.index]

    # ------------------------------------------------------------------------------------ config
    def get_config(self) -> dict[str, Any]:
        nodes_by_layer = self._nodes_by_layer()
        layers = []
        for layer in self._layers:
            spec = serialize_layer(layer)
            spec["name"] = layer.name
            spec["inbound_nodes"] = [
                {"args": self._serialize(list(node.args)), "kwargs": self._serialize(node.kwargs)}
                for node in nodes_by_layer[id(layer)]
            ]
            layers.append(spec)
        inputs = [self._history(x) for x in self._inputs]
        outputs = [self._history(y) for y in self._outputs]
        return {
            "name": self.name,
            "trainable": self.trainable,
            "layers": layers,
            "input_layers": inputs[0] if self._single_input else inputs,
            "output_layers": outputs if self._output_type else outputs[0],
        }

    def _serialize(self, value):
        if isinstance(value, KerasTensor):
            return {
                "class_name": "__keras_tensor__",
                "config": {"shape": list(value.shape), "dtype": dtype_name(value.dtype),
                           "keras_history": self._history(value)},
            }
        if isinstance(value, (list, tuple)):
            return [self._serialize(v) for v in value]
        if isinstance(value, dict):
            return {k: self._serialize(v) for k, v in value.items()}
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        raise ValueError(
            f"Model '{self.name}': cannot write a config for a layer argument of type {type(value).__name__}; "
            "only symbolic tensors, numbers, strings, None and lists/dicts of them."
        )

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Functional:
        """Rebuilds the model from `get_config()` (or a Keras 3 functional config): the layers from
        their configs, then every recorded call, in an order where its inputs exist."""
        produced = {}  # (layer name, node index) -> flat outputs
        pending = []  # [layer, inbound node specs, how many done]
        for spec in config["layers"]:
            keys = ("class_name", "config", "registered_name")
            layer = deserialize_layer({key: spec[key] for key in keys if key in spec})
            name = spec.get("name", layer.name)
            if isinstance(layer, InputLayer):
                produced[(name, 0)] = [layer.output]
            else:
                pending.append([layer, name, list(spec.get("inbound_nodes", [])), 0])

        def tensor(history):
            name, node_index, tensor_index = history
            return produced[(name, node_index)][tensor_index]

        def ready(value):
            if _is_tensor_spec(value):
                return tuple(value["config"]["keras_history"][:2]) in produced
            if isinstance(value, list):
                return all(ready(v) for v in value)
            if isinstance(value, dict):
                return all(ready(v) for v in value.values())
            return True

        def rebuild(value):
            if _is_tensor_spec(value):
                return tensor(value["config"]["keras_history"])
            if isinstance(value, list):
                return [rebuild(v) for v in value]
            if isinstance(value, dict):
                return {k: rebuild(v) for k, v in value.items()}
            return value

        while pending:
            progressed = False
            for entry in pending:
                layer, name, nodes, done = entry
                while done < len(nodes) and ready(nodes[done]):
                    outputs = layer(*rebuild(nodes[done].get("args", [])), **rebuild(nodes[done].get("kwargs", {})))
                    produced[(name, done)] = [x for x in flatten(outputs) if isinstance(x, KerasTensor)]
                    done += 1
                    progressed = True
                entry[3] = done
            pending = [entry for entry in pending if entry[3] < len(entry[2])]
            if pending and not progressed:
                stuck = [entry[1] for entry in pending]
                raise ValueError(f"Cannot rebuild the graph: the inputs of layers {stuck} are never produced.")

        def endpoints(spec):
            if _is_history(spec):
                return tensor(spec)
            return [tensor(h) for h in spec]

        return cls(
            endpoints(config["input_layers"]),
            endpoints(config["output_layers"]),
            name=config.get("name"),
            trainable=config.get("trainable", True),
        )


def _fold_consumers(nodes, outputs):
    """{id(Embedding node): the node of the recurrent layer that alone reads its output}, for the
    Embedding calls whose output goes only into a recurrent layer's sequences (not into a model
    output, nor anything else): the model hands that layer a `layers.plan.Fold`."""
    readers = defaultdict(list)
    for node in nodes:
        for leaf in node.inputs:
            readers[id(leaf)].append(node)
    model_outputs = {id(y) for y in outputs}
    consumers = {}
    for node in nodes:
        if not isinstance(node.layer, Embedding) or len(node.flat_outputs) != 1:
            continue
        output = node.flat_outputs[0]
        reading = readers[id(output)]
        if id(output) in model_outputs or len(reading) != 1 or not getattr(reading[0].layer, "accepts_fold", False):
            continue
        consumer = reading[0]
        if consumer.args and consumer.args[0] is output and len(consumer.inputs) == len(set(map(id, consumer.inputs))):
            consumers[id(node)] = consumer
    return consumers


def _is_history(value):
    return isinstance(value, (list, tuple)) and len(value) == 3 and isinstance(value[0], str)


def _is_tensor_spec(value):
    return isinstance(value, dict) and value.get("class_name") == "__keras_tensor__"


def _register(model, layer):
    """Makes `layer` a submodule of `model` under its name (the state_dict prefix)."""
    if not layer.name or "." in layer.name:
        raise ValueError(f"Model '{model.name}': layer name {layer.name!r} cannot name a submodule (no '.').")
    model._modules[layer.name] = layer


def _map_graph(model_name, inputs, outputs):
    """Returns the nodes to run, inputs to outputs, and the model's layers in Keras's order."""
    finished, ordered, first_seen = set(), [], {}
    input_ids = {id(x) for x in inputs}

    def visit(tensor, wanted_by):
        node = tensor.node
        if id(node) in finished:
            return
        if node.is_input and id(tensor) not in input_ids:
            raise ValueError(
                f"Model '{model_name}': the graph is disconnected: {wanted_by} depends on input "
                f"'{node.layer.name}' of shape {format_shape(tensor.shape)}, which is not among the model's "
                f"inputs {[x.node.layer.name for x in inputs]}."
            )
        first_seen.setdefault(id(node.layer), (len(first_seen), node.layer))
        for parent in node.inputs:
            visit(parent, f"layer '{node.layer.name}'")
        finished.add(id(node))
        ordered.append(node)

    for y in outputs:
        visit(y, f"output {y!r}")

    # Depth: the longest path to an output; a layer called several times takes its deepest call's.
    node_depth, layer_depth = {}, {}
    for node in reversed(ordered):
        depth = max(node_depth.setdefault(id(node), 0), layer_depth.get(id(node.layer), 0))
        node_depth[id(node)] = layer_depth[id(node.layer)] = depth
        for parent in node.inputs:
            node_depth[id(parent.node)] = max(node_depth.get(id(parent.node), 0), depth + 1)
    for x in inputs:  # inputs the outputs do not use still belong to the model
        if id(x.node.layer) not in layer_depth:
            layer_depth[id(x.node.layer)] = 0
            first_seen[id(x.node.layer)] = (-1, x.node.layer)
    layers = [layer for _, layer in sorted(first_seen.values(), key=lambda item: item[0])]
    layers.sort(key=lambda layer: -layer_depth[id(layer)])

    run = [node for node in ordered if not node.is_input]
    for node in run:
        node.call_structure = (node.args, node.kwargs)
        node.call_leaves = flatten(node.call_structure)
        node.takes_training = "training" in getattr(node.layer, "_call_takes", ())
    return run, layers


def _node_indices(nodes):
    """Each node's index among its layer's calls in this model (Keras's node_index)."""
    count, index = defaultdict(int), {}
    for node in sorted(nodes, key=lambda n: n.order):
        index[id(node)] = count[id(node.layer)]
        count[id(node.layer)] += 1
    return index
