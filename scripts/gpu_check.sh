#!/usr/bin/env bash
# The GPU check: what a session that is lent a GPU machine runs there, once, as one prepared command
# (about 15 minutes of device time per session, the machine's start included, at most 10 a command).
#
# Exact call of the device tool (`run`), from a checkout of this repository:
#     command:   bash scripts/gpu_check.sh
#     carry:     [".whl"]      (optional: Keras's wheels, prepared below; without them Keras is not timed)
#     timeout_s: 540
# Expected ~3 minutes of commands (the estimates below) after the machine's start; the steps' own limits add up
# to 480 s. A failed or cut step can be run again alone, e.g. `bash scripts/gpu_check.sh suite memory`, right
# after the call (the machine stays warm 30 s; a fresh one costs another start).
#
# The machine (see the device tool's notes) has no network and a plain `python3` with PyTorch, pytest,
# numpy, h5py, matplotlib, ninja and safetensors: rnnkit runs from this tree (PYTHONPATH=src), nothing is
# installed. A .venv cannot travel (the tree is limited to 64 MiB, and it holds the CPU build of torch). Its
# torch was 2.11 when last read (the venv here has 2.13): the env step's `import rnnkit` is the first check.
# Keras is not in its image; to time Keras too, before the call, here, in the repository root:
#     python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#         --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 -d .whl \
#         keras==3.15.1 namex==0.1.0 optree==0.20.0            # 2.9 MB; .whl/ is git-ignored
#
# Steps, most important first, each under `timeout` so that one hang cannot eat the budget. The estimates are
# for an H100 (none measured yet): each Python process ~15 s to start (torch, CUDA, Keras); the GPU work itself is
# small, overhead-bound steps: per step ~1-2 ms for rnnkit and PyTorch, ~5-10 ms for Keras.
#                                                                                        estimate   limit
#     env       nvidia-smi, the versions, and what dtype rnnkit's mixed_bfloat16 GRU and         5 s     30 s
#               nn.GRU under torch.autocast(bfloat16) return (why suite.py leaves the bf16 rows out on cuda)
#     tests     pytest -k "cuda or cudnn" on the files with the CUDA tests                   30 s     90 s
#     suite     benchmarks/suite.py --device cuda --no-memory, 5 repeats + 1 warm-up:        50 s    135 s
#               char ~5 s, mnist ~4 s, sine ~5 s, demo ~3 s, text ~10 s (Keras and rnnkit's backward LSTM
#               loop over the 200 masked steps)
#     generate  the same for generate ~5 s, generate64 ~4 s (PyTorch: 3,200 one-prompt steps)  25 s     75 s
#     engine    benchmarks/engine.py --device cuda: bare layers against nn.RNN/LSTM/GRU      20 s     60 s
#     memory    benchmarks/suite.py --device cuda --only char --repeats 1 --memory-runs 1:   55 s     90 s
#               RSS and GPU memory of one child per contender (~12 s each)
# Everything goes to $OUT (it comes back): check.log (all output, with the tables), pytest.xml,
# suite.json, generate.json, engine.json, memory.json.
#
# RNNKIT_NATIVE=0: the compiled kernels are CPU code (CI tests them); building them would take 1-2 of the
# budget's minutes. The CPU side of the CUDA tests then runs rnnkit's PyTorch-op kernels, which CI holds to
# the compiled ones. Off the GPU machine (e.g. `PYTHON=.venv/bin/python OUT=/tmp/gpu bash scripts/gpu_check.sh`)
# every step still runs: the benchmarks say "CUDA is not available ...; skipping", the CUDA tests skip.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:?set OUT to the folder the results go to}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
LOG=$OUT/check.log
export PYTHONUNBUFFERED=1 KERAS_BACKEND=torch RNNKIT_NATIVE=0 PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
if compgen -G ".whl/*.whl" >/dev/null; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        && export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi

# step NAME LIMIT OUTPUT COMMAND...: COMMAND under `timeout LIMIT`; its stdout goes to the file OUTPUT (a JSON
# report), or with OUTPUT "-" to the log, and its stderr to the log. Returns COMMAND's exit status.
step() {
    local name=$1 limit=$2 output=$3 status
    shift 3
    echo "=== $name (limit ${limit}s): $*" | tee -a "$LOG"
    local start=$SECONDS
    if [ "$output" = - ]; then
        timeout -k 10 "$limit" "$@" 2>&1 | tee -a "$LOG"
        status=${PIPESTATUS[0]}
    else
        timeout -k 10 "$limit" "$@" >"$output" 2> >(tee -a "$LOG" >&2)
        status=$?
    fi
    echo "=== $name: exit $status$([ "$status" = 124 ] && echo ' (timed out)') after $((SECONDS - start))s" | tee -a "$LOG"
    return "$status"
}

# table MODULE REPORT: the table of a benchmark's JSON report (one run gives both), or the report's text as it is
# where it holds none (e.g. "CUDA is not available ...").
table() {
    "$PY" - "$1" "$2" <<'EOF' 2>&1 | tee -a "$LOG"
import importlib, json, sys
sys.path.insert(0, "benchmarks")
text = open(sys.argv[2]).read()
try:
    report = json.loads(text)
except ValueError:
    print(text.strip())
else:
    importlib.import_module(sys.argv[1]).print_table(report)
EOF
}

env_step() {
    nvidia-smi || true
    "$PY" - <<'EOF'
import rnnkit
import torch
print("rnnkit", rnnkit.__version__, "from", rnnkit.__file__)
print("torch", torch.__version__, "| CUDA", torch.version.cuda, "| cuDNN", torch.backends.cudnn.version(),
      "| GPU", torch.cuda.get_device_name() if torch.cuda.is_available() else "none")
try:
    import keras
    print("keras", keras.__version__)
except Exception as error:
    print("keras not importable:", error)
if torch.cuda.is_available():
    from rnnkit import layers
    x = torch.randn(2, 5, 3, device="cuda")

    def autocast_gru():
        gru = torch.nn.GRU(3, 8, batch_first=True).cuda()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            return gru(x)[0]

    for name, run in [
        ("rnnkit GRU(8, dtype='mixed_bfloat16') (its cuDNN route casts to bfloat16 with autocast off)",
         lambda: layers.GRU(8, dtype="mixed_bfloat16").cuda()(x)),
        ("nn.GRU under torch.autocast('cuda', bfloat16) (the torch-autocast contender)", autocast_gru),
    ]:
        try:
            print(f"{name} returns {run().dtype}")
        except Exception as error:
            print(f"{name} fails: {type(error).__name__}: {error}")
EOF
}

export -f env_step  # `timeout` runs programs: the step runs it in a child bash
export PY

tests=(tests/layers/test_cudnn_route.py tests/engine/test_cudnn.py)
# test_metrics.py imports Keras: only where the wheels came along
"$PY" -c "import keras" 2>/dev/null && tests+=(tests/train/test_metrics.py)

steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=(env tests suite generate engine memory)
for name in "${steps[@]}"; do
    case $name in
        env) step env 30 - bash -c env_step ;;
        tests) step tests 90 - "$PY" -m pytest -q -p no:cacheprovider -k "cuda or cudnn" --junitxml="$OUT/pytest.xml" \
            "${tests[@]}" ;;
        suite) step suite 135 "$OUT/suite.json" "$PY" benchmarks/suite.py --device cuda --no-memory --json \
            --only char,mnist,sine,demo,text && table suite "$OUT/suite.json" ;;
        generate) step generate 75 "$OUT/generate.json" "$PY" benchmarks/suite.py --device cuda --no-memory --json \
            --only generate,generate64 && table suite "$OUT/generate.json" ;;
        engine) step engine 60 "$OUT/engine.json" "$PY" benchmarks/engine.py --device cuda --json \
            && table engine "$OUT/engine.json" ;;
        memory) step memory 90 "$OUT/memory.json" "$PY" benchmarks/suite.py --device cuda --only char --repeats 1 \
            --memory-runs 1 --json && table suite "$OUT/memory.json" ;;
        *) echo "unknown step '$name': expected env, tests, suite, generate, engine or memory" | tee -a "$LOG"; exit 2 ;;
    esac
done
