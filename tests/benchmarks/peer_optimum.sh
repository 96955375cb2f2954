#!/usr/bin/env bash
# A peer tool's figures, optimum-benchmark's, in its own venv (made here if missing).
#   bash tests/benchmarks/peer_optimum.sh --threads 1 [--shapes 1x128,8x128] [--duration 10]
#       the bundled encoder's p50 (peer_optimum.py)
#   bash tests/benchmarks/peer_optimum.sh --task text-generation --threads 1 [--prompt-tokens 128] [--new-tokens 32]
#       the synthetic GPT-2's prefill and per-token decode (peer_optimum_generation.py), on a folder
#       the project venv saves first (make_gpt2_checkpoint.py, .bench-venvs/gpt2-synthetic)
# torch==2.13.0 picks the CPU wheel; optimum-benchmark 0.6.0 breaks on transformers 5
# (it imports SpecialTokensMixin), so transformers and what it pulls are pinned to a 4.x set.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=.bench-venvs/optimum
PINS=(torch==2.13.0 optimum-benchmark==0.6.0 transformers==4.57.6 tokenizers==0.22.2
      huggingface-hub==0.36.2 datasets==5.0.1 accelerate==1.15.0)
TASK=feature-extraction
ARGS=()
while (($#)); do
  case "$1" in
    --task) TASK=$2; shift 2 ;;
    --task=*) TASK=${1#--task=}; shift ;;
    *) ARGS+=("$1"); shift ;;
  esac
done
if ! "$VENV/bin/python" -c "import optimum_benchmark" 2>/dev/null; then
  "${PYTHON:-python3}" -m venv "$VENV"
  "$VENV/bin/pip" install -q "${PINS[@]}"
fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
case "$TASK" in
  feature-extraction)
    MODEL=$(.venv/bin/python -c "from core.paths import bundled_encoder_dir; print(bundled_encoder_dir())")
    exec "$VENV/bin/python" tests/benchmarks/peer_optimum.py --model "$MODEL" ${ARGS[@]+"${ARGS[@]}"} ;;
  text-generation)
    MODEL=.bench-venvs/gpt2-synthetic
    if [[ ! -f $MODEL/model.safetensors ]]; then
      OMP_NUM_THREADS=1 .venv/bin/python -m tests.benchmarks.make_gpt2_checkpoint --out "$MODEL"
    fi
    exec "$VENV/bin/python" tests/benchmarks/peer_optimum_generation.py --model "$MODEL" ${ARGS[@]+"${ARGS[@]}"} ;;
  *) echo "unknown --task $TASK (feature-extraction or text-generation)" >&2; exit 2 ;;
esac
