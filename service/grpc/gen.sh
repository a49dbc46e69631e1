#!/usr/bin/env bash
# Regenerate service/grpc/v1/ from service/grpc/proto/ (`make proto`).
# protoc names the generated modules after the proto package (referee.v1); they
# live at referee.service.grpc.v1, so the one cross-module import is rewritten.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN="${BIN:-.venv/bin}"
OUT="${1:-service/grpc/v1}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$BIN/python" -m grpc_tools.protoc -I service/grpc/proto \
    --plugin=protoc-gen-mypy="$BIN/protoc-gen-mypy" \
    --plugin=protoc-gen-mypy_grpc="$BIN/protoc-gen-mypy_grpc" \
    --python_out="$tmp" --grpc_python_out="$tmp" \
    --mypy_out="$tmp" --mypy_grpc_out="$tmp" \
    service/grpc/proto/referee/v1/referee.proto
mkdir -p "$OUT"
for f in "$tmp"/referee/v1/*; do
    sed 's/^from referee\.v1 import /from referee.service.grpc.v1 import /' "$f" >"$OUT/$(basename "$f")"
done
