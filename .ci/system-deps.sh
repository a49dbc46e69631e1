#!/usr/bin/env bash
# Installs the system packages Referee's sandbox and tests need, when missing.
# Idempotent and quick when everything is there; needs root (as on our machines).
# --optional: when they cannot be installed, say so and go on (the server runs
# without them; code items are then refused with sandbox_unavailable).
set -euo pipefail
optional=false
[ "${1:-}" = "--optional" ] && optional=true
need=()
command -v bwrap >/dev/null || need+=(bubblewrap)
/usr/bin/python3 -c 'import seccomp' 2>/dev/null || need+=(python3-seccomp)
command -v g++ >/dev/null || need+=(g++)
command -v node >/dev/null || need+=(nodejs)
# The code verifier's other languages: Debian's toolchains at the paths the
# language table names (a rustup or SDK install elsewhere does not count). Not
# for --optional (`make serve`): without them those languages' items are
# refused with sandbox_unavailable, naming what is missing.
if ! $optional; then
    [ -x /usr/bin/gcc ] || need+=(gcc)
    [ -x /usr/bin/javac ] || need+=(openjdk-17-jdk-headless)
    [ -x /usr/bin/go ] || need+=(golang-go)
    [ -x /usr/bin/rustc ] || need+=(rustc)
fi
$optional || command -v redis-server >/dev/null || need+=(redis-server)  # tests of --redis
if ((${#need[@]})); then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        echo "missing system packages: ${need[*]} (install them as root)" >&2
        $optional && exit 0
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; }; then
        echo "could not install: ${need[*]}" >&2
        $optional && exit 0
        exit 1
    fi
fi
