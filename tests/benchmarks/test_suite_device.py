"""benchmarks/suite.py --device: what it refuses, what it leaves out and how it reports a GPU, checked on a
machine without one (scripts/gpu_check.sh runs the suite on a GPU)."""
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import suite  # noqa: E402  (benchmarks/ is a folder of scripts, not a package)

BF16_ROWS = [name for name, wl in suite.WORKLOADS.items() if wl.precision == "mixed_bfloat16"]


def test_cuda_with_the_cpu_clock_is_refused_naming_the_fix(capsys):
    with pytest.raises(SystemExit) as stop:
        suite.parse_args(["--device", "cuda", "--clock", "cpu"])
    assert stop.value.code == 2
    assert "use --clock wall (the default) with --device cuda" in capsys.readouterr().err


def test_cuda_leaves_out_the_mixed_bfloat16_rows():
    args = suite.parse_args(["--device", "cuda"])
    assert BF16_ROWS and args.left_out == BF16_ROWS
    assert args.only == [name for name in suite.WORKLOADS if name not in BF16_ROWS]


def test_the_cpu_runs_every_row_by_default():
    args = suite.parse_args([])
    assert (args.device, args.only, args.left_out) == ("cpu", list(suite.WORKLOADS), [])


def test_cuda_with_only_bfloat16_rows_is_refused_naming_the_fix(capsys):
    with pytest.raises(SystemExit) as stop:
        suite.parse_args(["--device", "cuda", "--only", "char-bf16"])
    assert stop.value.code == 2
    assert "name float32 rows (e.g. char, mnist) or use --device cpu" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks a machine without CUDA")
def test_cuda_without_a_gpu_says_so_in_one_line_and_exits_0(capsys):
    assert suite.main(["--device", "cuda"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "skipping the cuda benchmark" in out


def test_the_cpu_rows_get_the_numpy_arrays_as_they_are():
    x, y = np.zeros((2, 3), np.float32), np.arange(2)
    got = suite.on_device((x, y), torch.device("cpu"))
    assert got[0] is x and got[1] is y


def test_another_device_gets_the_data_as_tensors_there_once():
    x, y = suite.on_device((np.zeros((2, 3), np.float32), np.arange(2)), torch.device("meta"))
    assert (x.device.type, x.dtype, tuple(x.shape)) == ("meta", torch.float32, (2, 3))
    assert (y.device.type, y.dtype) == ("meta", torch.int64)


def test_keras_is_not_timed_where_its_tensors_go_to_another_device():
    keras = pytest.importorskip("keras")
    with keras.device("cpu"):
        elsewhere = suite.keras_skip_reason(torch.device("cuda"))
        here = suite.keras_skip_reason(torch.device("cpu"))
    assert here is None
    assert "its tensors go to cpu, not cuda" in elsewhere


def report(machine, memory):
    base = {"rnnkit": "0", "torch": "0", "keras": "0", "device": "d", "threads": 1, "repeats": 1, "clock": "wall",
            "sgemm": "sgemm line"}
    entry = {"median": 1e-3, "min": 1e-3, "max": 1e-3, "ratio": 1.0, "memory": memory}
    result = {"label": "row", "contenders": {"torch": entry}, "notes": [], "errors": {}}
    return {"machine": {**base, **machine}, "results": [result]}


def test_the_table_on_cuda_names_the_gpu_and_its_memory_and_not_the_cpus_bfloat16(capsys):
    memory = {"peak_rss_mb": 900, "step_mb": 20, "code_mb": 300, "gpu_peak_mb": 1234, "gpu_step_mb": 567}
    suite.print_table(report({"accelerator": "GPU: H100", "notes": ["left out on cuda: x"]}, memory))
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "GPU: H100" and "note: left out on cuda: x" in lines
    assert not any("CPU bfloat16" in line for line in lines)
    header = next(line for line in lines if line.startswith("workload"))
    row = next(line for line in lines if line.startswith("row"))
    assert header.endswith("code MB  GPU MB  +GPU step MB")
    assert row.split()[-2:] == ["1234", "567"]


def test_the_table_on_the_cpu_keeps_its_columns(capsys):
    suite.print_table(report({"bf16": "AVX512-BF16 yes"}, {"peak_rss_mb": 900, "step_mb": 20, "code_mb": 300}))
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "CPU bfloat16 support: AVX512-BF16 yes"
    header = next(line for line in lines if line.startswith("workload"))
    assert header.endswith("code MB") and "GPU" not in header
    assert next(line for line in lines if line.startswith("row")).split()[-3:] == ["900", "20", "300"]
