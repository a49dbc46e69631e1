# Sourced by the image build scripts: a Debian base image made without any registry.
#
#   make_base IMAGE PACKAGES LOG   debootstrap --variant=minbase bookworm with PACKAGES
#                                  (comma-separated) from the machine's apt mirror,
#                                  slimmed and `docker import`ed as IMAGE
#
# Needs docker_cli and fail defined by the caller. REFEREE_DEBIAN_MIRROR overrides
# the mirror (default: the running system's apt sources, then deb.debian.org).

suite=${suite:-bookworm}

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
    echo "debootstrap $suite ($packages) from $mirror" >&2
    if ! debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$mirror" \
        >>"$log" 2>&1; then
        rm -rf "$root"
        fail "debootstrap failed"
    fi
    # Package caches and documentation are dead weight in an image (about 230 MB).
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin \
        "$root"/var/lib/apt/lists/* "$root"/var/log/* \
        "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
        "$root"/usr/share/locale/*
    if ! tar --numeric-owner -C "$root" -c . |
        docker_cli import --message "debootstrap $suite minbase + $packages" - "$image" \
            >>"$log" 2>&1; then
        rm -rf "$root"
        fail "docker import failed"
    fi
    rm -rf "$root"
}
