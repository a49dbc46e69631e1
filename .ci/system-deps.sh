#!/usr/bin/env bash
# Installs the system packages Referee's sandbox and tests need, when missing.
# Idempotent and quick when everything is there; needs root (as on our machines).
set -euo pipefail
need=()
command -v bwrap >/dev/null || need+=(bubblewrap)
/usr/bin/python3 -c 'import seccomp' 2>/dev/null || need+=(python3-seccomp)
command -v g++ >/dev/null || need+=(g++)
command -v node >/dev/null || need+=(nodejs)
if ((${#need[@]})); then
    if [ "$(id -u)" != 0 ]; then
        echo "missing system packages: ${need[*]} (install them as root)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
