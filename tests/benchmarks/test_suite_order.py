"""benchmarks/suite.py's timing loop: the order the contenders are timed in, and a workload none of whose
contenders could be built (checked with stand-in contenders, no model trained)."""
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import suite  # noqa: E402  (benchmarks/ is a folder of scripts, not a package)

CPU = torch.device("cpu")


def test_each_repeat_rotates_which_contender_follows_the_gemm_probes(monkeypatch):
    calls = []
    monkeypatch.setattr(suite, "build", lambda contender, *args: lambda: calls.append(contender))

    class Probe:
        def sample(self, clock):
            calls.append("probe")

    suite.run_workload("sine", 3, [Probe()], 1, 0, "cpu", CPU, False)
    timed = calls[2:]  # after the two warm-up calls
    assert timed == ["rnnkit", "torch", "probe", "torch", "rnnkit", "probe", "rnnkit", "torch", "probe"]


def test_a_workload_whose_contenders_all_fail_to_build_reports_their_errors(monkeypatch):
    def broken(contender, *args):
        raise RuntimeError(f"{contender} is broken")

    monkeypatch.setattr(suite, "build", broken)
    result = suite.run_workload("sine", 2, [], 1, 0, "cpu", CPU, False)
    assert result["errors"] == {"rnnkit": "RuntimeError: rnnkit is broken", "torch": "RuntimeError: torch is broken"}
    assert result["contenders"] == {}
