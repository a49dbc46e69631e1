#!/usr/bin/env bash
# Build the sandbox image without any image registry, into the engine at DOCKER_HOST.
#
#   1. referee-sandbox-base:bookworm: `debootstrap --variant=minbase` of Debian with
#      python3, python3-seccomp, g++ and nodejs from the machine's own apt mirror,
#      slimmed and `docker import`ed (about a minute; kept between runs).
#   2. referee-sandbox:latest: the Dockerfile beside this script, FROM that base, with
#      Referee's fork server (sandbox/jail/*.py) baked in and its digest as a label
#      that the docker backend checks before it starts a container.
#
# Nothing is done when the image exists with the current jail digest; a changed fork
# server rebuilds only step 2 (seconds). --force rebuilds both.
# Settings (environment): REFEREE_DOCKER_IMAGE, REFEREE_DOCKER_BASE_IMAGE,
# REFEREE_DEBIAN_MIRROR (default: from /etc/apt sources), REFEREE_SANDBOX_BUILD_LOG.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
jail=$(cd "$here/../../sandbox/jail" && pwd)
image=${REFEREE_DOCKER_IMAGE:-referee-sandbox:latest}
base=${REFEREE_DOCKER_BASE_IMAGE:-referee-sandbox-base:bookworm}
log=${REFEREE_SANDBOX_BUILD_LOG:-/var/tmp/referee-sandbox-build.log}
suite=bookworm
packages=python3,python3-seccomp,g++,nodejs
label=org.referee.jail-sha256
# The fork server's scripts: every sandbox/jail/*.py but __init__.py, in byte order.
scripts=()
for path in $(cd "$jail" && LC_ALL=C ls -- *.py); do
    [ "$path" = __init__.py ] || scripts+=("$path")
done

force=0
case "${1:-}" in
    "") ;;
    --force) force=1 ;;
    *) echo "usage: $0 [--force]" >&2; exit 2 ;;
esac

docker_cli() {  # the docker.io CLI matches its daemon; another one may come first on PATH
    if [ -x /usr/bin/docker ]; then /usr/bin/docker "$@"; else docker "$@"; fi
}

fail() {
    echo "build.sh: $*" >&2
    [ -f "$log" ] && tail -n 20 "$log" | sed 's/^/  log: /' >&2
    exit 1
}

# debian_mirror, make_base: shared with deploy/build-images.sh.
# shellcheck source=../lib/debootstrap-base.sh
. "$here/../lib/debootstrap-base.sh"

cleanup=()
trap 'for d in "${cleanup[@]}"; do rm -rf "$d"; done' EXIT

docker_cli version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
    fail "no Docker engine answers at ${DOCKER_HOST:-the default socket} (run start-dockerd.sh)"

mkdir -p /run/lock
exec 9>/run/lock/referee-sandbox-build.lock
flock 9  # concurrent builds would debootstrap twice and race on the tags

# Name, NUL, content for each: sandbox/docker_backend.py jail_digest() computes the same.
digest=$(cd "$jail" && for s in "${scripts[@]}"; do printf '%s\0' "$s"; cat "$s"; done |
    sha256sum | cut -d' ' -f1)
current=$(docker_cli image inspect --format "{{ index .Config.Labels \"$label\" }}" "$image" \
    2>/dev/null || true)
if [ "$force" = 0 ] && [ "$current" = "$digest" ]; then
    echo "build.sh: $image is up to date" >&2
    exit 0
fi

: >"$log"
# What the tags point at now: removed once the new images hold the tags (no dangling copies).
previous=$(docker_cli image inspect --format '{{.Id}}' "$image" "$base" 2>/dev/null || true)
if [ "$force" = 1 ] || ! docker_cli image inspect "$base" >/dev/null 2>&1; then
    make_base "$base" "$packages" "$log"
fi

context=$(mktemp -d /var/tmp/referee-image.XXXXXX)
cleanup+=("$context")
cp "$here/Dockerfile" "$context/"
mkdir -m 0755 "$context/jail"
for script in "${scripts[@]}"; do
    install -m 0644 "$jail/$script" "$context/jail/$script"
done
DOCKER_BUILDKIT=0 docker_cli build --quiet --network none --build-arg "BASE=$base" \
    --build-arg "JAIL_SHA256=$digest" --tag "$image" "$context" >>"$log" 2>&1 ||
    fail "docker build failed"
current=$(docker_cli image inspect --format '{{.Id}}' "$image" "$base")
for id in $previous; do
    grep -qx "$id" <<<"$current" || docker_cli rmi "$id" >/dev/null 2>&1 || true
done
echo "build.sh: built $image" >&2
