#!/usr/bin/env bash
# Build Referee's images without any image registry, into the engine at DOCKER_HOST.
#
#   1. referee-base:bookworm: `debootstrap --variant=minbase` of Debian with python3,
#      python3-seccomp, bubblewrap, tini, g++, nodejs, redis-server and haproxy from
#      the machine's own apt mirror, `docker import`ed (a minute or two; kept between
#      runs, rebuilt when the package list in lib/debootstrap-base.sh changes).
#   2. A wheelhouse on the host: `pip wheel` of deploy/requirements.lock (and pip),
#      plus Referee's own wheel built from this tree.
#   3. referee:local from deploy/Dockerfile (api and worker), built with --network none.
#      Redis and the local cluster's proxy (haproxy) run from this image too.
#   4. referee-sandbox:latest (sandbox-image/build.sh): the fork server on the same
#      base, where the compose cluster's workers run code (the Docker backend).
#
# A step whose inputs did not change is skipped: the images carry the digest of their
# inputs as a label. Each step says what it does on stderr, with debootstrap's phases
# and docker build's steps; the full output goes to the log. --force rebuilds everything.
# Settings (environment): REFEREE_IMAGE, REFEREE_BASE_IMAGE, REFEREE_DOCKER_IMAGE,
# REFEREE_DEBIAN_MIRROR, REFEREE_IMAGES_BUILD_LOG, PYTHON (host Python 3.11 with pip).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
image=${REFEREE_IMAGE:-referee:local}
base=${REFEREE_BASE_IMAGE:-referee-base:bookworm}
log=${REFEREE_IMAGES_BUILD_LOG:-/var/tmp/referee-images-build.log}
python=${PYTHON:-python3}
suite=bookworm
label=org.referee.inputs-sha256

force=0
case "${1:-}" in
    "") ;;
    --force) force=1 ;;
    *) echo "usage: $0 [--force]" >&2; exit 2 ;;
esac

# The classic builder: it prints `Step N/M` lines, and takes a docker-imported base.
export DOCKER_BUILDKIT=0

docker_cli() {  # the docker.io CLI matches its daemon; another one may come first on PATH
    if [ -x /usr/bin/docker ]; then /usr/bin/docker "$@"; else docker "$@"; fi
}

fail() {
    echo "build-images.sh: $*" >&2
    [ -f "$log" ] && tail -n 20 "$log" | sed 's/^/  log: /' >&2
    exit 1
}

# shellcheck source=lib/debootstrap-base.sh
. "$here/lib/debootstrap-base.sh"

label_of() {
    docker_cli image inspect --format "{{ index .Config.Labels \"$label\" }}" "$1" 2>/dev/null || true
}

docker_cli version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
    fail "no Docker engine answers at ${DOCKER_HOST:-the default socket} (run sandbox-image/start-dockerd.sh)"

mkdir -p /run/lock
exec 9>/run/lock/referee-images-build.lock
flock 9  # concurrent builds would debootstrap twice and race on the tags
: >"$log"

cleanup=()
trap 'for d in "${cleanup[@]}"; do rm -rf "$d"; done' EXIT

# 1. The base (shared with the sandbox image).
echo "build-images.sh: [1/4] base image $base" >&2
ensure_base "$base" "$log" "$force"
base_id=$(docker_cli image inspect --format '{{.Id}}' "$base")

# 2-3. The api/worker image: inputs are the base, the Dockerfile, the lock and the sources.
sources=$(cd "$root" && git ls-files -co --exclude-standard -- \
    pyproject.toml README.md LICENSE service verifiers sandbox clients | LC_ALL=C sort)
inputs=$(cd "$root" && {
    echo "$base_id"
    sha256sum deploy/Dockerfile deploy/requirements.lock
    # shellcheck disable=SC2086
    sha256sum $sources
} | sha256sum | cut -d' ' -f1)
if [ "$force" = 1 ] || [ "$(label_of "$image")" != "$inputs" ]; then
    echo "build-images.sh: [2/4] wheelhouse (pip wheel of requirements.lock and Referee)" >&2
    context=$(mktemp -d /var/tmp/referee-image.XXXXXX)
    cleanup+=("$context")
    mkdir -p "$context/wheels/deps" "$context/wheels/referee"
    cp "$here/Dockerfile" "$here/requirements.lock" "$context/"
    # pip wheel, not pip download --only-binary: a dependency published only as an
    # sdist (langdetect) is built into a wheel here, where the network is.
    "$python" -m pip wheel --quiet --no-deps --wheel-dir "$context/wheels/deps" \
        --requirement "$here/requirements.lock" pip >>"$log" 2>&1 || fail "pip wheel failed"
    "$python" -m pip wheel --quiet --no-deps --wheel-dir "$context/wheels/referee" "$root" \
        >>"$log" 2>&1 || fail "building Referee's wheel failed"
    old=$(docker_cli image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
    echo "build-images.sh: [3/4] docker build $image" >&2
    logged "$log" "$progress_pattern" \
        docker_cli build --force-rm --network none --build-arg "BASE=$base" \
        --build-arg "INPUTS_SHA256=$inputs" --tag "$image" "$context" ||
        fail "docker build of $image failed"
    new=$(docker_cli image inspect --format '{{.Id}}' "$image")
    [ -z "$old" ] || [ "$old" = "$new" ] || docker_cli rmi "$old" >/dev/null 2>&1 || true
    # Build stages of earlier builds are untagged copies: keep only the newest (the cache).
    stale=$(docker_cli images --quiet --no-trunc --filter dangling=true \
        --filter label=org.referee.build-stage=referee | tail -n +2)
    # shellcheck disable=SC2086
    [ -z "$stale" ] || docker_cli rmi $stale >/dev/null 2>&1 || true
    echo "build-images.sh: built $image" >&2
else
    echo "build-images.sh: [2-3/4] $image is up to date" >&2
fi

# 4. The sandbox image, FROM the same base.
echo "build-images.sh: [4/4] sandbox image" >&2
exec 9>&-
REFEREE_DOCKER_BASE_IMAGE=$base "$here/sandbox-image/build.sh"

