# Sourced by the image build scripts: the one Debian base image that both
# referee:local (deploy/Dockerfile) and referee-sandbox:latest (sandbox-image/) are
# built FROM, made without any registry. Debootstrapped once; the two images share
# its layer in the engine.
#
#   ensure_base IMAGE LOG FORCE    make IMAGE unless it exists with the current package
#                                  list (its label); FORCE=1 remakes it
#   make_base IMAGE PACKAGES LOG   debootstrap --variant=minbase bookworm with PACKAGES
#                                  (comma-separated) from the machine's apt mirror,
#                                  slimmed and `docker import`ed as IMAGE
#   logged LOG PATTERN CMD...      CMD with its output appended to LOG, and the lines
#                                  matching PATTERN (progress) on stderr
#
# Needs docker_cli and fail defined by the caller. REFEREE_DEBIAN_MIRROR overrides
# the mirror (default: the running system's apt sources, then deb.debian.org).

suite=${suite:-bookworm}
# The sandbox's interpreters and compilers (the fork server, python, cpp, javascript),
# and what referee:local uses besides (bubblewrap, tini; Redis and haproxy for the
# compose cluster). The sandbox image carries them too: none is setuid, and its
# containers have no network and a read-only root.
core_packages=python3,python3-seccomp,bubblewrap,tini,g++,nodejs,redis-server,haproxy
# Toolchains of further languages go here (e.g. gcc,openjdk-17-jdk-headless,golang-go,
# rustc): both images get them; changing the list rebuilds the base.
toolchain_packages=${toolchain_packages:-}
base_packages=$core_packages${toolchain_packages:+,$toolchain_packages}
base_label=org.referee.inputs-sha256
# debootstrap's phases and docker build's steps: the progress shown while a build runs.
progress_pattern='^(I: (Retrieving Release|Checking|Resolving|Found|Installing|Unpacking required|Unpacking the base|Configuring required|Configuring the base|Base system)|Step [0-9]+/[0-9]+ :)'

logged() {
    local log=$1 pattern=$2
    shift 2
    "$@" 2>&1 | tee -a "$log" | { grep --line-buffered -E "$pattern" || true; } |
        sed -u 's/^/    /' >&2
    return "${PIPESTATUS[0]}"
}

# The mirror of the running system: deb822 sources first, then one-line sources.
debian_mirror() {
    local f uri
    if [ -n "${REFEREE_DEBIAN_MIRROR:-}" ]; then echo "$REFEREE_DEBIAN_MIRROR"; return; fi
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        uri=$(awk -v suite="$suite" 'BEGIN { RS = "" } {
            types = 0; ok = 0; uri = ""; n = split($0, lines, "\n")
            for (i = 1; i <= n; i++) {
                line = lines[i]
                if (line ~ /^#/) continue
                if (line ~ /^Types:/ && line ~ /[ \t]deb([ \t]|$)/) types = 1
                if (line ~ /^URIs:/) { split(line, u, /[ \t]+/); uri = u[2] }
                if (line ~ /^Suites:/) { m = split(line, s, /[ \t]+/); for (j = 2; j <= m; j++) if (s[j] == suite) ok = 1 }
            }
            if (types && ok && uri != "") { print uri; exit }
        }' "$f")
        if [ -n "$uri" ]; then echo "$uri"; return; fi
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        uri=$(sed -E 's/\[[^]]*\]//' "$f" | awk -v suite="$suite" \
            '$1 == "deb" && $3 == suite { print $2; exit }')
        if [ -n "$uri" ]; then echo "$uri"; return; fi
    done
    echo "http://deb.debian.org/debian"
}

make_base() {
    local image=$1 packages=$2 log=$3 mirror root
    if ! command -v debootstrap >/dev/null 2>&1; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -qq --no-install-recommends debootstrap >>"$log" 2>&1 ||
            { apt-get update -qq >>"$log" 2>&1 &&
              apt-get install -y -qq --no-install-recommends debootstrap >>"$log" 2>&1; } ||
            fail "cannot install debootstrap"
    fi
    mirror=$(debian_mirror)
    root=$(mktemp -d /var/tmp/referee-rootfs.XXXXXX)
    echo "  debootstrap $suite ($packages) from $mirror (about a minute; log: $log)" >&2
    if ! logged "$log" "$progress_pattern" \
        debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$mirror"; then
        rm -rf "$root"
        fail "debootstrap failed"
    fi
    # Package caches and documentation are dead weight in an image (about 230 MB).
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin \
        "$root"/var/lib/apt/lists/* "$root"/var/log/* \
        "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
        "$root"/usr/share/locale/*
    echo "  docker import $image" >&2
    if ! tar --numeric-owner -C "$root" -c . |
        docker_cli import --message "debootstrap $suite minbase + $packages" - "$image" \
            >>"$log" 2>&1; then
        rm -rf "$root"
        fail "docker import failed"
    fi
    rm -rf "$root"
}

ensure_base() {
    local image=$1 log=$2 force=$3 digest old
    digest=$(printf '%s %s\n' "$suite" "$base_packages" | sha256sum | cut -d' ' -f1)
    mkdir -p /run/lock
    exec 8>/run/lock/referee-base-build.lock
    flock 8  # both build scripts come here: one debootstrap at a time
    if [ "$force" != 1 ] && [ "$(docker_cli image inspect --format \
        "{{ index .Config.Labels \"$base_label\" }}" "$image" 2>/dev/null)" = "$digest" ]; then
        exec 8>&-
        return 0
    fi
    echo "base image $image: debootstrap of $suite" >&2
    old=$(docker_cli image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
    make_base "$image" "$base_packages" "$log"
    # Label it with what it holds (docker import cannot): a layer-free rebuild.
    printf 'FROM %s\nLABEL %s=%s\n' "$image" "$base_label" "$digest" |
        DOCKER_BUILDKIT=0 docker_cli build --quiet --network none --tag "$image" - >>"$log" 2>&1 ||
        fail "labelling $image failed"
    [ -z "$old" ] || docker_cli rmi "$old" >/dev/null 2>&1 || true
    echo "built $image" >&2
    exec 8>&-
}
