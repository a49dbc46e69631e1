#!/usr/bin/env bash
# Build the sandbox image without any image registry, into the engine at DOCKER_HOST.
#
#   1. referee-base:bookworm, the base referee:local is built FROM too (debootstrap of
#      Debian with python3, python3-seccomp, g++, nodejs, ...: ../lib/debootstrap-base.sh;
#      made once, about a minute, when no build made it yet).
#   2. referee-sandbox:latest: the Dockerfile beside this script, FROM that base, with
#      Referee's fork server (sandbox/jail/*.py) baked in and its digest as a label
#      that the docker backend checks before it starts a container.
#
# Nothing is done when the image exists with the current jail digest on the current
# base; a changed fork server rebuilds only step 2 (seconds). --force rebuilds both.
# Settings (environment): REFEREE_DOCKER_IMAGE, REFEREE_DOCKER_BASE_IMAGE (default
# REFEREE_BASE_IMAGE, then referee-base:bookworm), REFEREE_DEBIAN_MIRROR,
# REFEREE_SANDBOX_BUILD_LOG.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
jail=$(cd "$here/../../sandbox/jail" && pwd)
image=${REFEREE_DOCKER_IMAGE:-referee-sandbox:latest}
base=${REFEREE_DOCKER_BASE_IMAGE:-${REFEREE_BASE_IMAGE:-referee-base:bookworm}}
log=${REFEREE_SANDBOX_BUILD_LOG:-/var/tmp/referee-sandbox-build.log}
suite=bookworm
label=org.referee.jail-sha256
base_label_of_sandbox=org.referee.base-id
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

export DOCKER_BUILDKIT=0  # the classic builder: `Step N/M` lines, a docker-imported base

docker_cli() {  # the docker.io CLI matches its daemon; another one may come first on PATH
    if [ -x /usr/bin/docker ]; then /usr/bin/docker "$@"; else docker "$@"; fi
}

fail() {
    echo "build.sh: $*" >&2
    [ -f "$log" ] && tail -n 20 "$log" | sed 's/^/  log: /' >&2
    exit 1
}

# ensure_base, logged: shared with deploy/build-images.sh.
# shellcheck source=../lib/debootstrap-base.sh
. "$here/../lib/debootstrap-base.sh"

cleanup=()
trap 'for d in "${cleanup[@]}"; do rm -rf "$d"; done' EXIT

docker_cli version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
    fail "no Docker engine answers at ${DOCKER_HOST:-the default socket} (run start-dockerd.sh)"

mkdir -p /run/lock
exec 9>/run/lock/referee-sandbox-build.lock
flock 9  # concurrent builds would debootstrap twice and race on the tags

mkdir -p "$(dirname "$log")"
: >"$log"
ensure_base "$base" "$log" "$force"
base_id=$(docker_cli image inspect --format '{{.Id}}' "$base")
# The jail's digest is the label the backend checks; the base's id is part of the tag's
# identity too (a rebuilt base rebuilds this image). Name, NUL, content for each
# script: sandbox/docker_backend.py jail_digest() computes the same.
digest=$(cd "$jail" && for s in "${scripts[@]}"; do printf '%s\0' "$s"; cat "$s"; done |
    sha256sum | cut -d' ' -f1)
current=$(docker_cli image inspect --format \
    "{{ index .Config.Labels \"$label\" }} {{ index .Config.Labels \"$base_label_of_sandbox\" }}" \
    "$image" 2>/dev/null || true)
if [ "$force" = 0 ] && [ "$current" = "$digest $base_id" ]; then
    echo "build.sh: $image is up to date" >&2
    exit 0
fi

previous=$(docker_cli image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
# The base of earlier versions of this script: the shared base replaces it.
docker_cli rmi referee-sandbox-base:bookworm >/dev/null 2>&1 || true

context=$(mktemp -d /var/tmp/referee-image.XXXXXX)
cleanup+=("$context")
cp "$here/Dockerfile" "$context/"
mkdir -m 0755 "$context/jail"
for script in "${scripts[@]}"; do
    install -m 0644 "$jail/$script" "$context/jail/$script"
done
echo "build.sh: docker build $image FROM $base" >&2
logged "$log" "$progress_pattern" \
    docker_cli build --network none --build-arg "BASE=$base" --build-arg "JAIL_SHA256=$digest" \
    --label "$base_label_of_sandbox=$base_id" --tag "$image" "$context" ||
    fail "docker build failed"
current=$(docker_cli image inspect --format '{{.Id}}' "$image" "$base")
for id in $previous; do
    grep -qx "$id" <<<"$current" || docker_cli rmi "$id" >/dev/null 2>&1 || true
done
echo "build.sh: built $image" >&2
