#!/usr/bin/env bash
# Makes sure the Debian packages the test suite needs are installed. npm's pretest and .ci/run both
# call it, so `npm install && npm test` works on a fresh Debian machine. As root with apt-get it
# installs what is missing; elsewhere it names the missing packages and stops. Silent when nothing
# is missing, and then it runs no apt command at all.
set -euo pipefail

# package:command it provides (checked instead where dpkg-query is absent, i.e. not Debian).
#   redis-server    the throwaway Redis of test/support/global-setup.ts
#   redis-sentinel  the Sentinels of the failover tests (test/support/redis-sentinel.ts)
#   docker.io       the private dockerd of the same setup
#   busybox-static  the static busybox copied into the stub runner image (test/sim/stub-image.ts)
#   chromium        the headless browser of the dashboard test (test/e2e/dashboard.test.ts)
#   docker-registry the loopback registry image pulls are tested against (test/support/registry.ts)
packages=(redis-server:redis-server redis-sentinel:redis-sentinel docker.io:dockerd busybox-static:busybox chromium:chromium docker-registry:docker-registry)

# installed PACKAGE COMMAND
installed() {
  if command -v dpkg-query >/dev/null; then
    [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
  else
    command -v "$2" >/dev/null
  fi
}

missing=()
for entry in "${packages[@]}"; do
  installed "${entry%%:*}" "${entry#*:}" || missing+=("${entry%%:*}")
done
((${#missing[@]} == 0)) && exit 0

if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null; then
  echo "test-deps: the tests need ${missing[*]}; install them as root (apt-get install -y ${missing[*]}), then run npm test again" >&2
  exit 1
fi

echo "test-deps: installing ${missing[*]} with apt-get"
log="$(mktemp /tmp/rh-test-deps.XXXXXX)"
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update && apt-get install -y --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  echo "test-deps: apt-get could not install ${missing[*]}; last lines of its output:" >&2
  tail -n 30 "$log" >&2
  rm -f "$log"
  exit 1
fi
rm -f "$log"
