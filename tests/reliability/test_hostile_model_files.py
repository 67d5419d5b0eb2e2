"""Hostile model files for `rnnkit.load_model`, `rnnkit.io.load_keras`, `TextClassifier.load` and
`rnnkit info`: zip tricks (unknown compression, encryption, bombs, tens of thousands of members),
configs that ask for far more memory than the file holds, deeply nested JSON, NaN weights, and
label lists that do not match the outputs. Each is refused with a ValueError naming the file, in
bounded time and memory, or (for the CLI) with exit code 2 and one line."""
import hashlib
import json
import os
import struct
import subprocess
import sys
import textwrap
import time
import tracemalloc
import zipfile

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import rnnkit  # noqa: E402
from rnnkit.tasks.classify import TextClassifier  # noqa: E402
from hostile import assert_refused, run  # noqa: E402


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """The members of a small saved LSTM model file: {name: bytes}."""
    model = rnnkit.Sequential([rnnkit.layers.LSTM(3), rnnkit.layers.Dense(2)])
    model.build((None, 4, 2))
    path = tmp_path_factory.mktemp("saved") / "model.rnnkit"
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def write_model(path, members, compression=zipfile.ZIP_DEFLATED, checksums=True):
    """A model file of `members` ({name: bytes}), with checksums.json recomputed to match them (as an
    attacker would), so that only the hostile part can be the reason for a refusal."""
    members = dict(members)
    if checksums:
        members.pop("checksums.json", None)
        digests = {name: hashlib.sha256(data).hexdigest() for name, data in members.items()}
        members["checksums.json"] = json.dumps({"sha256": digests}).encode()
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return str(path)


def with_config(saved, change):
    config = json.loads(saved["config.json"])
    change(config)
    return {**saved, "config.json": json.dumps(config).encode()}


def patch_central_directory(path, offset_in_entry, value, size=2):
    """Overwrites a field of every entry of the zip's central directory and local headers (e.g. the
    compression method or the flag bits) in place."""
    data = bytearray(open(path, "rb").read())
    local_offsets = {"method": 8, "flags": 6}
    central_offsets = {"method": 10, "flags": 8}
    for signature, offsets in ((b"PK\x03\x04", local_offsets), (b"PK\x01\x02", central_offsets)):
        start = data.find(signature)
        while start != -1:
            position = start + offsets[offset_in_entry]
            data[position:position + size] = value.to_bytes(size, "little")
            start = data.find(signature, start + 4)
    open(path, "wb").write(bytes(data))


def refused(path, *named, loader=rnnkit.load_model):
    with pytest.raises(ValueError) as error:
        loader(path)
    message = str(error.value)
    assert str(path) in message and "\n" not in message
    for text in named:
        assert text in message, message
    assert len(message) < 1000  # a few names, never the whole listing
    return message


# ---------------------------------------------------------------------------------------- zip tricks
@pytest.mark.parametrize("method, name", [(zipfile.ZIP_BZIP2, "12"), (zipfile.ZIP_LZMA, "14")])
def test_a_compression_method_rnnkit_does_not_write_is_refused(saved, tmp_path, method, name):
    path = write_model(tmp_path / "m.rnnkit", saved, compression=method)
    refused(path, f"compression method {name}")


@pytest.mark.parametrize("method", [1, 6, 9, 99, 65535])
def test_an_unknown_compression_method_is_refused_before_reading(saved, tmp_path, method):
    path = write_model(tmp_path / "m.rnnkit", saved, compression=zipfile.ZIP_STORED)
    patch_central_directory(path, "method", method)
    refused(path, f"compression method {method}")


def test_an_encrypted_member_is_refused(saved, tmp_path):
    path = write_model(tmp_path / "m.rnnkit", saved)
    patch_central_directory(path, "flags", 0x1)
    refused(path, "encrypted")


@pytest.mark.parametrize("count", [2_000, 30_000])
def test_many_empty_members_are_refused_quickly_with_a_short_message(saved, tmp_path, count):
    path = str(tmp_path / "m.rnnkit")
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in saved.items():
            archive.writestr(name, data)
        for index in range(count):
            archive.writestr(f"extra/{index:06d}", b"")
    start = time.perf_counter()
    refused(path, "unexpected members", "and")
    assert time.perf_counter() - start < 5


def test_many_duplicate_members_are_refused_quickly_with_a_short_message(saved, tmp_path):
    path = str(tmp_path / "m.rnnkit")
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in saved.items():
            archive.writestr(name, data)
        for _ in range(20_000):
            archive.writestr("config.json", b"{}")
    start = time.perf_counter()
    refused(path, "more than once")
    assert time.perf_counter() - start < 5


@pytest.mark.parametrize("member", ["config.json", "model.safetensors", "assets.json"])
def test_a_member_that_inflates_far_beyond_the_file_is_refused_before_inflating(saved, tmp_path, member):
    bomb = {**saved, member: b" " * (40 * 2**20)}  # 40 MiB of spaces deflate to ~40 KiB
    path = write_model(tmp_path / "m.rnnkit", bomb)
    tracemalloc.start()
    try:
        refused(path, "zip bomb")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20


# ------------------------------------------------------------------------------------- nested JSON
@pytest.mark.parametrize("member", ["config.json", "checksums.json", "assets.json"])
@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_deeply_nested_json_is_refused_in_one_line(saved, tmp_path, member, opener):
    nested = (opener * 200_000).encode()
    path = write_model(tmp_path / "m.rnnkit", {**saved, member: nested}, checksums=member != "checksums.json")
    refused(path, member)


def test_deeply_nested_json_in_the_weights_header_is_refused(saved, tmp_path):
    header = b"[" * 200_000
    weights = struct.pack("<Q", len(header)) + header
    path = write_model(tmp_path / "m.rnnkit", {**saved, "model.safetensors": weights})
    refused(path, "model.safetensors")


@pytest.mark.parametrize("depth", [300, 5000])
def test_a_config_nesting_layers_deeply_is_refused(saved, tmp_path, depth):
    config = json.loads(saved["config.json"])
    inner = json.dumps(config["config"]["layers"][1])
    config["config"]["layers"][1] = "INNER"
    nested = '{"class_name": "Bidirectional", "config": {"layer": ' * depth + inner + "}}" * depth
    text = json.dumps(config).replace('"INNER"', nested)
    path = write_model(tmp_path / "m.rnnkit", {**saved, "config.json": text.encode()})
    refused(path)


# ------------------------------------------------------------------------ memory asked for by configs
@pytest.mark.parametrize("units", [3000, 100_000, 10**9])
def test_a_config_asking_for_more_weights_than_the_file_holds_is_refused_before_allocating(saved, tmp_path,
                                                                                          units):
    def widen(config):
        config["config"]["layers"][1]["config"]["units"] = units

    path = write_model(tmp_path / "m.rnnkit", with_config(saved, widen))
    start = time.perf_counter()
    refused(path, "model.safetensors")
    assert time.perf_counter() - start < 3


@pytest.mark.parametrize("shape", [[2**40], [2**20, 2**20], [-1], ["3"], 7])
def test_a_weights_header_with_impossible_shapes_is_refused(saved, tmp_path, shape):
    header = json.dumps({"w": {"dtype": "F32", "shape": shape, "data_offsets": [0, 4]}}).encode()
    weights = struct.pack("<Q", len(header)) + header + b"\0" * 4
    path = write_model(tmp_path / "m.rnnkit", {**saved, "model.safetensors": weights})
    refused(path)


def test_a_weights_header_claiming_huge_tensors_buys_no_room_for_a_huge_config(saved, tmp_path):
    header = json.dumps({"w": {"dtype": "F32", "shape": [2**40], "data_offsets": [0, 4]}}).encode()
    weights = struct.pack("<Q", len(header)) + header + b"\0" * 4
    members = with_config(saved, lambda config: config["config"]["layers"][1]["config"].update(units=100_000))
    path = write_model(tmp_path / "m.rnnkit", {**members, "model.safetensors": weights})
    start = time.perf_counter()
    refused(path, "describes a model of more than")
    assert time.perf_counter() - start < 3


def test_hostile_files_stay_within_bounded_memory(saved, tmp_path):
    """In a fresh process (peak RSS is per process): a config asking for an LSTM of 6000 units
    (about 1.5 GB to build) and a .keras config and an IDX .gz that would inflate to 120 MB each are
    refused with the process's peak memory growing by less than 100 MB."""
    wide = write_model(tmp_path / "wide.rnnkit", with_config(
        saved, lambda config: config["config"]["layers"][1]["config"].update(units=6000)))
    keras = tmp_path / "bomb.keras"
    with zipfile.ZipFile(keras, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config.json", b" " * (120 * 2**20))
        archive.writestr("model.weights.h5", b"")
    import gzip

    images = tmp_path / "images.gz"
    with gzip.open(images, "wb", compresslevel=1) as stream:
        stream.write(bytes([0, 0, 8, 3]) + struct.pack(">III", 1, 28, 28))
        stream.write(bytes(120 * 2**20))
    script = textwrap.dedent(f"""
        import resource, rnnkit, rnnkit.io, rnnkit.data
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        for load in (lambda: rnnkit.load_model({wide!r}), lambda: rnnkit.io.load_keras({str(keras)!r}),
                     lambda: rnnkit.data.read_idx({str(images)!r})):
            try:
                load()
                raise SystemExit("accepted")
            except ValueError:
                pass
        print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.strip()) < 100


# ------------------------------------------------------------------------------------ the weights
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_weights_holding_nan_or_inf_are_refused_on_load_naming_the_file(tmp_path, bad):
    model = rnnkit.Sequential([rnnkit.layers.GRU(3), rnnkit.layers.Dense(1)])
    model.build((None, 4, 2))
    with torch.no_grad():
        model.layers[0].cell.kernel[0, 0] = bad
    path = tmp_path / "diverged.rnnkit"
    model.save(path)
    refused(str(path), "NaN or inf", "kernel")


# ------------------------------------------------------------------------------------ classifiers
@pytest.fixture(scope="module")
def classifier_file(tmp_path_factory):
    from rnnkit.data import LabelledTexts
    from rnnkit.tasks.classify import train_classifier

    texts = [f"{'good' if i % 3 == 0 else 'bad' if i % 3 == 1 else 'meh'} thing {i}" for i in range(30)]
    data = LabelledTexts(texts, np.arange(30) % 3, ["pos", "neg", "mid"])
    result = train_classifier(data, epochs=1, embedding_dim=4, units=4, batch_size=8, verbose=0)
    path = tmp_path_factory.mktemp("classifier") / "model.rnnkit"
    result.model.save(path)
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


@pytest.mark.parametrize("labels", [["pos", "neg"], ["pos", "neg", "mid", "other"], ["a"], "posnegmid",
                                    [1, 2, 3], None])
def test_a_classifier_whose_labels_do_not_match_its_outputs_is_refused_naming_the_file(classifier_file,
                                                                                      tmp_path, labels):
    assets = json.loads(classifier_file["assets.json"])
    assets["labels"] = labels
    path = write_model(tmp_path / "model.rnnkit", {**classifier_file, "assets.json": json.dumps(assets).encode()})
    with pytest.raises(ValueError, match="label") as error:
        TextClassifier.load(path)
    assert "\n" not in str(error.value)
    assert_refused(run(["classify", "predict", path, "good thing"]), "label")


# ------------------------------------------------------------------------------------ Keras files
@pytest.mark.parametrize("trick", ["bomb", "nested", "encrypted", "bzip2"])
def test_a_hostile_keras_file_is_refused_naming_it(tmp_path, trick):
    path = str(tmp_path / "model.keras")
    config = {"bomb": b" " * (40 * 2**20), "nested": b"[" * 200_000}.get(trick, b"{}")
    method = zipfile.ZIP_BZIP2 if trick == "bzip2" else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(path, "w", method) as archive:
        archive.writestr("config.json", config)
        archive.writestr("model.weights.h5", b"")
    if trick == "encrypted":
        patch_central_directory(path, "flags", 0x1)
    refused(path, loader=rnnkit.io.load_keras)


# ------------------------------------------------------------------------------------ the CLI
@pytest.mark.parametrize("content", [b"", b"PK\x03\x04", b"not a zip", b"PK\x05\x06" + bytes(18),
                                     bytes(range(256)) * 4])
@pytest.mark.parametrize("command", [["info"], ["classify", "predict"], ["textgen", "sample"],
                                     ["seq2seq", "predict"]])
def test_a_file_that_is_no_model_is_refused_by_every_command_in_one_line(tmp_path, content, command):
    path = tmp_path / "model.rnnkit"
    path.write_bytes(content)
    extra = {"classify": ["a text"], "textgen": ["--prompt", "a"], "seq2seq": ["1+1"]}.get(command[0], [])
    assert_refused(run(command + [path] + extra), str(path))
