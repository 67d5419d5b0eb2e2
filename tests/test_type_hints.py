"""Every public function, class and method of rnnkit carries type hints, and the recurrent layers and
engine entry points document their shapes with one legend (B batch, T time, F features, H units), as
PyTorch's `nn.LSTM` documents its own (issue 13).

What counts as public: every module whose dotted name has no part starting with "_", and in it every
name not starting with "_" that is a function or class defined in rnnkit (a re-export is checked once,
where it is defined). In a public class: the methods and properties not starting with "_" that it
defines or inherits from an rnnkit class (a private base's included), plus `__init__` and `__call__`,
the two dunders a user calls by name.

What must be annotated: every parameter but the bound first one (self / cls) of a method, and the
return. `*args` and `**kwargs` are exempt: in rnnkit they only forward to another signature (a
layer's base keywords such as `name` and `dtype`, a wrapped callable's arguments) whose own parameters
are annotated where they are defined, so `**kwargs: Any` would say nothing.
"""
import ast
import builtins
import functools
import importlib
import inspect
import pathlib
import pkgutil
import re
import sys
import textwrap
import types

import pytest

import rnnkit
import rnnkit.engine
import rnnkit.layers

VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
CALLED_DUNDERS = ("__init__", "__call__")


def public_modules():
    """Every importable rnnkit module whose dotted name has no private part."""
    names = ["rnnkit"] + [
        info.name for info in pkgutil.walk_packages(rnnkit.__path__, "rnnkit.")
        if not any(part.startswith("_") for part in info.name.split("."))
    ]
    return [importlib.import_module(name) for name in sorted(names)]


def defined_in_rnnkit(obj):
    return (getattr(obj, "__module__", None) or "").split(".")[0] == "rnnkit"


def is_function(obj):
    """A function, or a decorated one (`functools.lru_cache` returns a wrapper object)."""
    return inspect.isfunction(obj) or (callable(obj) and inspect.isfunction(getattr(obj, "__wrapped__", None)))


def public_api(modules):
    """The public functions and classes the modules expose, defined in rnnkit, each once."""
    found = {}
    for module in modules:
        for name, obj in vars(module).items():
            if name.startswith("_") or not (is_function(obj) or inspect.isclass(obj)):
                continue
            if defined_in_rnnkit(obj):
                found[id(obj)] = obj
    return list(found.values())


def callables_of(obj):
    """(qualified name, function, whether its first parameter is bound) for a function, or for each
    checked method and property accessor of a class."""
    if is_function(obj):
        yield f"{obj.__module__}.{obj.__qualname__}", obj, False
        return
    # A method inherited from a private base class (`_Scaler.fit`) is public on the public subclass.
    for owner, name, member in ((k, n, m) for k in obj.__mro__ if defined_in_rnnkit(k) for n, m in vars(k).items()):
        if name.startswith("_") and name not in CALLED_DUNDERS:
            continue
        where = f"{owner.__module__}.{owner.__qualname__}.{name}"
        if isinstance(member, staticmethod):
            yield where, member.__func__, False
        elif isinstance(member, classmethod):
            yield where, member.__func__, True
        elif isinstance(member, property):
            for accessor in (member.fget, member.fset):
                if accessor is not None:
                    yield where, accessor, True
        elif isinstance(member, functools.cached_property):
            yield where, member.func, True
        elif inspect.isfunction(member):
            yield where, member, True


def missing_annotations(function, bound):
    """The names of the parameters (and "return") of `function` that carry no annotation."""
    function = inspect.unwrap(function)
    if not defined_in_rnnkit(function):
        return []
    parameters = list(inspect.signature(function).parameters.values())
    if bound:
        parameters = parameters[1:]
    missing = [p.name for p in parameters if p.kind not in VARIADIC and p.annotation is inspect.Parameter.empty]
    if inspect.signature(function).return_annotation is inspect.Signature.empty:
        missing.append("return")
    return missing


def unannotated(objects):
    """One line per function or method with a missing annotation: 'module.qualname: names'."""
    lines = set()
    for obj in objects:
        for where, function, bound in callables_of(obj):
            missing = missing_annotations(function, bound)
            if missing:
                lines.add(f"{where}: {', '.join(missing)}")
    return sorted(lines)


def test_every_public_function_class_and_method_of_rnnkit_is_annotated():
    lines = unannotated(public_api(public_modules()))
    assert not lines, f"{len(lines)} public signatures lack annotations (parameter names, 'return'):\n" + "\n".join(
        lines
    )


def test_the_annotation_check_finds_what_is_missing_and_accepts_what_is_complete():
    source = textwrap.dedent(
        """
        def complete(x: int, *args, flag: bool = False, **kwargs) -> int:
            return x

        def bare(x, y: int = 1):
            return x

        @functools.lru_cache(maxsize=None)
        def cached(x: int):
            return x

        class Thing:
            def __init__(self, size: int) -> None:
                self.size = size

            def __call__(self, x):
                return x

            @property
            def doubled(self):
                return 2 * self.size

            @classmethod
            def make(cls, size: int) -> "Thing":
                return cls(size)

            @staticmethod
            def helper(value) -> int:
                return value

            def _private(self, anything):
                return anything

        class _Base:
            def fit(self, data):
                return self

        class Scaler(_Base):
            pass
        """
    )
    module = types.ModuleType("rnnkit.made_up")
    module.functools = functools
    exec(compile(source, "<made up>", "exec"), module.__dict__)
    assert unannotated(public_api([module])) == [
        "rnnkit.made_up.Thing.__call__: x, return",
        "rnnkit.made_up.Thing.doubled: return",
        "rnnkit.made_up.Thing.helper: value",
        "rnnkit.made_up._Base.fit: data, return",
        "rnnkit.made_up.bare: x, return",
        "rnnkit.made_up.cached: return",
    ]


def test_the_public_api_walk_reaches_layers_models_training_data_and_cli():
    modules = {module.__name__ for module in public_modules()}
    assert {"rnnkit.layers.lstm", "rnnkit.models.model", "rnnkit.train.trainer", "rnnkit.data.timeseries",
            "rnnkit.io.saving", "rnnkit.cli.options", "rnnkit.engine.gru"} <= modules
    assert not any(part.startswith("_") for name in modules for part in name.split("."))
    checked = {obj.__qualname__ for obj in public_api(public_modules())}
    assert {"LSTM", "Sequential", "EarlyStopping", "load_model", "lstm_scan"} <= checked


# ------------------------------------------------------------------------------------------------
# Annotations name what exists

@functools.lru_cache(maxsize=None)
def type_checking_names(module_name):
    """Names a module imports under `if TYPE_CHECKING:`: annotations may use them, the running
    module does not hold them."""
    path = getattr(sys.modules.get(module_name), "__file__", None)
    if not path:
        return set()
    names = set()
    for node in ast.walk(ast.parse(pathlib.Path(path).read_text())):
        test = getattr(node, "test", None)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(test):
            for statement in node.body:
                if isinstance(statement, (ast.Import, ast.ImportFrom)):
                    names |= {(alias.asname or alias.name).split(".")[0] for alias in statement.names}
    return names


def unknown_annotation_names(function):
    """'parameter: name' for each name an annotation of `function` uses that neither its module
    (its globals, its TYPE_CHECKING imports) nor the builtins define: a typo that
    `from __future__ import annotations` keeps from failing at import."""
    function = inspect.unwrap(function)
    known = set(function.__globals__) | set(vars(builtins)) | type_checking_names(function.__module__)
    signature = inspect.signature(function)
    annotations = [(p.name, p.annotation) for p in signature.parameters.values()]
    annotations.append(("return", signature.return_annotation))
    unknown = []
    for name, annotation in annotations:
        if isinstance(annotation, str):
            used = {n.id for n in ast.walk(ast.parse(annotation, mode="eval")) if isinstance(n, ast.Name)}
            unknown += [f"{name}: {used_name}" for used_name in sorted(used - known)]
    return unknown


def test_every_annotation_of_the_public_api_names_something_its_module_defines():
    lines = sorted(
        {
            f"{where}: {', '.join(unknown)}"
            for obj in public_api(public_modules())
            for where, function, _ in callables_of(obj)
            if defined_in_rnnkit(inspect.unwrap(function)) and (unknown := unknown_annotation_names(function))
        }
    )
    assert not lines, "annotations naming what their module neither defines nor imports:\n" + "\n".join(lines)


def test_the_name_check_reports_a_misspelt_annotation():
    namespace = {"__name__": "rnnkit.made_up"}
    exec("from __future__ import annotations\ndef f(x: Sequnce[int], y: int) -> Tenser: ...", namespace)
    assert unknown_annotation_names(namespace["f"]) == ["x: Sequnce", "return: Tenser"]


# ------------------------------------------------------------------------------------------------
# Shape legends

LEGEND_WORDS = {"B": r"batch", "T": r"time|steps|sequence", "F": r"features?|inputs?", "H": r"units|hidden"}
RECURRENT_LAYERS = ["SimpleRNN", "LSTM", "GRU", "RNN", "Bidirectional"]
RECURRENT_CELLS = ["SimpleRNNCell", "LSTMCell", "GRUCell", "StackedRNNCells"]
ENGINE_ENTRY_POINTS = sorted(name for name in vars(rnnkit.engine) if name.endswith("_scan")) + [
    "embedding_projection"
]
# One shape entry: a legend letter or a number, optionally scaled ("4H", "2*H", "H+1"), or "...".
SHAPE_ENTRY = re.compile(r"^(?:\d+\s*\*?\s*)?[A-Z](?:\s*[*+]\s*\d+)?$|^\d+$|^\.\.\.$")


def shape_letters(doc):
    """The capital letters used in the shape tuples "(B, T, F)" of a docstring."""
    letters = set()
    for group in re.findall(r"\(([^()]*)\)", doc):
        entries = [entry.strip() for entry in group.split(",") if entry.strip()]
        if entries and all(SHAPE_ENTRY.match(entry) for entry in entries):
            letters |= set(re.findall(r"[A-Z]", group))
    return letters


def legend_defines(doc, letter):
    """Whether the docstring says what `letter` stands for: "B batch", "B = batch size", "B: batch"..."""
    pattern = rf"\b{letter}\b\s*(?:=|:|is|for|-)?\s*(?:the\s+|a\s+)?(?:number\s+of\s+)?(?:{LEGEND_WORDS[letter]})"
    return re.search(pattern, doc, flags=re.IGNORECASE) is not None


def legend_gaps(doc, required):
    """What a docstring lacks: the required letters its shape tuples never use, and the legend
    letters they use that it never defines."""
    doc = doc or ""
    used = shape_letters(doc)
    gaps = [f"no shape uses {letter}" for letter in sorted(required - used)]
    gaps += [f"{letter} not defined" for letter in sorted(used & set(LEGEND_WORDS)) if not legend_defines(doc, letter)]
    return gaps


@pytest.mark.parametrize(
    "owner, names, required",
    [
        (rnnkit.layers, RECURRENT_LAYERS, {"B", "T", "F", "H"}),
        (rnnkit.layers, RECURRENT_CELLS, {"B", "F", "H"}),
        (rnnkit.engine, ENGINE_ENTRY_POINTS, {"B", "T"}),
    ],
    ids=["recurrent layers", "recurrent cells", "engine entry points"],
)
def test_recurrent_layers_cells_and_engine_entry_points_document_shapes_with_the_BTFH_legend(
    owner, names, required
):
    gaps = [
        f"{owner.__name__}.{name}: {'; '.join(gap)}"
        for name in names
        # a class's __doc__ is its own (None when it has none), never its base's
        if (gap := legend_gaps(getattr(owner, name).__doc__, required))
    ]
    assert not gaps, "docstrings lacking shapes in the legend B batch, T time, F features, H units:\n" + "\n".join(gaps)


def test_the_legend_check_accepts_a_documented_layer_and_names_what_an_undocumented_one_lacks():
    documented = """LSTM layer.

    Shapes, with B batch size, T time steps, F input features, H units:
        inputs (B, T, F); output (B, T, H) or (B, H); kernel (F, 4H).
    """
    assert legend_gaps(documented, {"B", "T", "F", "H"}) == []
    assert legend_gaps("Runs over (batch, time, features) inputs.", {"B", "T"}) == [
        "no shape uses B", "no shape uses T"
    ]
    assert legend_gaps("inputs (B, T, F), output (B, H); B = batch, T = time.", {"B"}) == [
        "F not defined", "H not defined"
    ]
