#!/usr/bin/env bash
# Start a private Docker engine for Referee's docker sandbox (CI, tests, one-machine setups).
#
# Installs docker.io when dockerd is missing, starts dockerd on its own socket, data root
# and exec root (no iptables, no bridge: sandbox containers run with network_mode=none)
# unless an engine already answers there, waits until it answers, and prints the
# DOCKER_HOST to use as the only line on stdout:
#
#     export DOCKER_HOST="$(deploy/sandbox-image/start-dockerd.sh)"
#
# Stop it with stop-dockerd.sh (same settings; --purge also deletes its data root and log).
# Storage driver: overlay2, or vfs when overlay2 cannot start here (said on stderr).
# Settings (environment): REFEREE_DOCKER_SOCK, REFEREE_DOCKER_DATA_ROOT,
# REFEREE_DOCKER_EXEC_ROOT, REFEREE_DOCKERD_LOG, REFEREE_DOCKERD_WAIT_S.
set -euo pipefail

sock=${REFEREE_DOCKER_SOCK:-/run/referee-docker.sock}
data_root=${REFEREE_DOCKER_DATA_ROOT:-/var/lib/referee-docker}
exec_root=${REFEREE_DOCKER_EXEC_ROOT:-/run/referee-docker}
log=${REFEREE_DOCKERD_LOG:-/var/log/referee-dockerd.log}
wait_s=${REFEREE_DOCKERD_WAIT_S:-60}
host="unix://$sock"

# The CLI of the docker.io package matches its daemon; another one may come first on PATH.
docker_cli() {
    if [ -x /usr/bin/docker ]; then /usr/bin/docker "$@"; else docker "$@"; fi
}

answers() {
    docker_cli -H "$host" version --format '{{.Server.Version}}' >/dev/null 2>&1
}

fail() {
    echo "start-dockerd: $*" >&2
    [ -f "$log" ] && tail -n 15 "$log" | sed 's/^/  dockerd: /' >&2
    exit 1
}

# One caller at a time: two dockerds on one data root corrupt it.
mkdir -p /run/lock
exec 9>/run/lock/referee-dockerd.lock
flock -w "$wait_s" 9 || fail "another start-dockerd.sh holds /run/lock/referee-dockerd.lock"

if answers; then
    echo "$host"
    exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    install=(apt-get install -y -qq --no-install-recommends docker.io)
    if ! "${install[@]}" >>"$log" 2>&1; then
        apt-get update -qq >>"$log" 2>&1 || true
        "${install[@]}" >>"$log" 2>&1 || fail "cannot install docker.io (apt-get failed)"
    fi
fi

# Starts dockerd with a storage driver; 0 once it answers, 1 if it exited or never answered.
start_with() {
    local driver=$1 pid i
    mkdir -p "$data_root" "$exec_root" "$(dirname "$log")"
    rm -f "$sock"
    echo "--- $(date -Is) dockerd --storage-driver=$driver" >>"$log"
    setsid dockerd --iptables=false --bridge=none --storage-driver="$driver" \
        --data-root "$data_root" --exec-root "$exec_root" \
        --pidfile "$exec_root/dockerd.pid" -H "$host" \
        </dev/null >>"$log" 2>&1 9>&- &
    pid=$!
    for ((i = 0; i < wait_s * 10; i++)); do
        answers && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    kill "$pid" 2>/dev/null || true
    return 1
}

if ! start_with overlay2; then
    echo "start-dockerd: overlay2 does not work here; falling back to the vfs storage driver" \
        "(slower, uses more disk)" >&2
    start_with vfs || fail "dockerd did not answer on $host within ${wait_s}s (log: $log)"
fi
echo "$host"
