#!/usr/bin/env bash
# The bundled encoder's p50 measured by optimum-benchmark, in its own venv (made here if missing).
#   bash tests/benchmarks/peer_optimum.sh --threads 1 [--shapes 1x128,8x128] [--duration 10]
# torch==2.13.0 picks the CPU wheel; optimum-benchmark 0.6.0 breaks on transformers 5
# (it imports SpecialTokensMixin), so transformers and what it pulls are pinned to a 4.x set.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=.bench-venvs/optimum
PINS=(torch==2.13.0 optimum-benchmark==0.6.0 transformers==4.57.6 tokenizers==0.22.2
      huggingface-hub==0.36.2 datasets==5.0.1 accelerate==1.15.0)
if ! "$VENV/bin/python" -c "import optimum_benchmark" 2>/dev/null; then
  "${PYTHON:-python3}" -m venv "$VENV"
  "$VENV/bin/pip" install -q "${PINS[@]}"
fi
MODEL=$(.venv/bin/python -c "from core.paths import bundled_encoder_dir; print(bundled_encoder_dir())")
HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 exec "$VENV/bin/python" tests/benchmarks/peer_optimum.py --model "$MODEL" "$@"
