#!/usr/bin/env bash
# Offline checks of everything under deploy/ (CI runs this; so can you):
#   yamllint on the YAML files, `helm lint --strict` and `helm template` of the chart
#   for the default values and each documented combination (helm/referee/ci/*.yaml),
#   `kubernetes-validate --strict` on every rendered manifest (CRD kinds are skipped
#   and named: kubernetes-validate has no schema for them), and `docker-compose config
#   -q` on the compose file with and without the monitoring profile.
# Tools come from deploy/tools.sh (cached). Exit status 0 only when every check passed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tools=$("$here/tools.sh")
export PATH="$tools/bin:$PATH"
chart=$here/helm/referee
k8s_version=${REFEREE_K8S_VERSION:-1.33}
# Custom resources of operators the chart can target (KEDA, Prometheus Operator).
crd_kinds=ScaledObject,ServiceMonitor
out=$(mktemp -d /var/tmp/referee-validate.XXXXXX)
trap 'rm -rf "$out"' EXIT

echo "== yamllint"
yamllint --strict -c "$here/.yamllint" "$here"

echo "== json"
for f in "$here"/grafana/dashboards/*.json "$chart/values.schema.json"; do
    "$tools/venv/bin/python" -m json.tool "$f" >/dev/null || { echo "bad JSON: $f" >&2; exit 1; }
done

combos=(default)
for f in "$chart"/ci/*-values.yaml; do combos+=("$(basename "$f" -values.yaml)"); done
for combo in "${combos[@]}"; do
    args=()
    [ "$combo" = default ] || args=(--values "$chart/ci/$combo-values.yaml")
    echo "== helm: $combo"
    helm lint --strict --quiet "$chart" "${args[@]}"
    helm template referee "$chart" --namespace referee "${args[@]}" >"$out/$combo.yaml"
    yamllint --strict -c "$here/.yamllint" "$out/$combo.yaml"
    "$tools/venv/bin/python" - "$out/$combo.yaml" "$out/$combo.core.yaml" "$crd_kinds" <<'PY'
import sys
import yaml
src, dst, crds = sys.argv[1], sys.argv[2], set(sys.argv[3].split(","))
docs = [d for d in yaml.safe_load_all(open(src)) if d]
skipped = [f"{d['kind']}/{d['metadata']['name']}" for d in docs if d["kind"] in crds]
with open(dst, "w") as f:
    yaml.safe_dump_all([d for d in docs if d["kind"] not in crds], f)
if skipped:
    print("   skipped (CRD, no schema in kubernetes-validate):", ", ".join(skipped))
PY
    kubernetes-validate --strict --quiet -k "$k8s_version" "$out/$combo.core.yaml"
done

echo "== docker-compose config"
docker-compose -f "$here/docker-compose.yml" config -q
docker-compose -f "$here/docker-compose.yml" --profile monitoring config -q
REFEREE_WORKER_SANDBOX=none REFEREE_DOCKER_SOCK=/dev/null docker-compose -f "$here/docker-compose.yml" config -q
echo "validate.sh: all deploy checks passed"
