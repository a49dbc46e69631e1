#!/usr/bin/env bash
# GRPO on one GPU: a few steps of examples/grpo-gsm8k-gpu.yaml against a local
# `referee serve`, then step time, tokens/s and the reward wait share.
#
#   bench/grpo_gpu.sh MODEL_DIR [STEPS]
#
# MODEL_DIR: a local Qwen2.5-0.5B-Instruct (or any causal LM) folder. Needs a
# Python with Referee and the `train` extra on a CUDA build of torch (PYTHON=...,
# default .venv/bin/python, else python3). Nothing is downloaded. Meant to stay
# under 8 minutes with the defaults: 4 steps of 8 prompts x 8 samples, 256 new
# tokens at most (transformers generate, one call per group).
#
# Baseline in the same run: `scoring_s`, the summed latency of every group's
# scoring request, is what the steps would have waited had each group been
# scored after its generation; the script prints the wait that overlapping
# left (`reward_wait_s`) against it. Writes bench/results/grpo_gpu.json.
#
# For a dry run on CPU: DEVICE=cpu PROMPTS=1 MAX_NEW_TOKENS=8 GGUF_FILE=x.gguf.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL_DIR=${1:?usage: bench/grpo_gpu.sh MODEL_DIR [STEPS]}
STEPS=${2:-4}
PYTHON=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
OUT=bench/results/grpo-gpu
mkdir -p bench/results
rm -rf "$OUT"

PORT=$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$PYTHON" -m referee.service.cli serve --port "$PORT" > bench/results/grpo-gpu-server.log 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true' EXIT
for _ in $(seq 120); do
  curl -sf "http://127.0.0.1:$PORT/readyz" > /dev/null && break
  sleep 0.5
done

CONFIG=bench/results/grpo-gpu.yaml
"$PYTHON" - "$MODEL_DIR" "$STEPS" "$CONFIG" <<'PY'
import os
import sys
from pathlib import Path

import yaml

model_dir, steps, out = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
raw = yaml.safe_load(Path("examples/grpo-gsm8k-gpu.yaml").read_text())
raw["model"]["path"] = str(Path(model_dir).resolve())
raw["data"]["path"] = str(Path("examples/data/gsm8k-mini.jsonl").resolve())
raw["training"].update(steps=steps, save_every=0, progress=False)
raw["training"]["device"] = os.environ.get("DEVICE", "cuda")
if os.environ.get("GGUF_FILE"):
    raw["model"]["gguf_file"] = os.environ["GGUF_FILE"]
raw["algorithm"]["prompts_per_step"] = int(os.environ.get("PROMPTS", "8"))
raw["generation"]["max_new_tokens"] = int(os.environ.get("MAX_NEW_TOKENS", "256"))
out.write_text(yaml.safe_dump(raw))
PY

REFEREE_URL="http://127.0.0.1:$PORT" "$PYTHON" -m referee.service.cli train \
  --config "$CONFIG" --output-dir "$OUT"

"$PYTHON" - "$OUT" <<'PY'
import json
import statistics
import sys
from pathlib import Path

out = Path(sys.argv[1])
rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
timed = rows[1:] or rows  # the first step includes warm-up (kernels, caches)
step_s = statistics.median(r["step_s"] for r in timed)
tokens_s = statistics.median(r["tokens_per_s"] for r in timed)
wait = sum(r["reward_wait_s"] for r in timed)
scoring = sum(r["scoring_s"] for r in timed)
total = sum(r["step_s"] for r in timed)
result = {
    "steps": len(rows),
    "median_step_s": step_s,
    "median_tokens_per_s": tokens_s,
    "reward_wait_share": wait / total,
    "reward_wait_s": wait,
    "sequential_scoring_s": scoring,
    "overlap_ratio": wait / scoring if scoring else None,
    "reward_mean": [r["reward_mean"] for r in rows],
}
print(f"median step time      {step_s:8.2f} s")
print(f"median tokens/s       {tokens_s:8.0f}")
print(f"reward wait share     {100 * wait / total:8.1f} % of step time")
print(f"reward wait vs sequential scoring: {wait:.2f} s / {scoring:.2f} s"
      f" = {result['overlap_ratio'] or 0:.3f}x")
Path("bench/results/grpo_gpu.json").write_text(json.dumps(result, indent=2))
PY
