#!/usr/bin/env bash
# Stop the private Docker engine that start-dockerd.sh started (same settings).
#
#     deploy/sandbox-image/stop-dockerd.sh           # stop it; its containers stop with it
#     deploy/sandbox-image/stop-dockerd.sh --purge   # and delete its data root and log
#
# Without --purge the engine's data root (the image cache) and log stay, so that the
# next start-dockerd.sh finds the images built. Packages installed on first use
# (docker.io, debootstrap) are left alone: `apt-get remove docker.io debootstrap`.
# Settings (environment): REFEREE_DOCKER_SOCK, REFEREE_DOCKER_DATA_ROOT,
# REFEREE_DOCKER_EXEC_ROOT, REFEREE_DOCKERD_LOG, REFEREE_DOCKERD_WAIT_S.
set -euo pipefail

sock=${REFEREE_DOCKER_SOCK:-/run/referee-docker.sock}
data_root=${REFEREE_DOCKER_DATA_ROOT:-/var/lib/referee-docker}
exec_root=${REFEREE_DOCKER_EXEC_ROOT:-/run/referee-docker}
log=${REFEREE_DOCKERD_LOG:-/var/log/referee-dockerd.log}
wait_s=${REFEREE_DOCKERD_WAIT_S:-60}
pidfile=$exec_root/dockerd.pid

purge=0
case "${1:-}" in
    "") ;;
    --purge) purge=1 ;;
    *) echo "usage: $0 [--purge]" >&2; exit 2 ;;
esac

mkdir -p /run/lock
exec 9>/run/lock/referee-dockerd.lock
flock -w "$wait_s" 9 || { echo "stop-dockerd: start-dockerd.sh holds the lock" >&2; exit 1; }

# Running, and not a zombie waiting for a parent that does not reap it.
running() {
    local state
    state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}

pid=$(cat "$pidfile" 2>/dev/null || true)
if [ -n "$pid" ] && running "$pid" && grep -q dockerd "/proc/$pid/comm" 2>/dev/null; then
    kill -TERM "$pid"
    for ((i = 0; i < wait_s * 10; i++)); do
        running "$pid" || break
        sleep 0.1
    done
    if running "$pid"; then
        echo "stop-dockerd: dockerd ($pid) did not stop within ${wait_s}s" >&2
        exit 1
    fi
    echo "stop-dockerd: stopped dockerd ($pid) on unix://$sock" >&2
else
    echo "stop-dockerd: no dockerd of ours runs (no live pid in $pidfile)" >&2
fi
rm -f "$sock"
if [ "$purge" = 1 ]; then
    # The data root may hold overlay mounts of containers that did not unmount.
    if [ -d "$data_root" ]; then
        grep -o " $data_root/[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
        rm -rf "$data_root"
    fi
    rm -rf "$exec_root"
    rm -f "$log"
    echo "stop-dockerd: removed $data_root, $exec_root and $log" >&2
fi
