#!/usr/bin/env bash
# System packages that the real-component tests start (broker, promtool, browser, ARM emulation).
# `make test` runs this first. As root with apt-get (CI, a fresh Debian/Ubuntu box) it installs what is
# missing; elsewhere it only says what is missing, and those tests skip naming the package
# (under CI=true such a skip is a failure: see tests/conftest.py).
set -uo pipefail
# package -> a command (or file) that shows it is installed
declare -A PROVIDES=(
    [chromium]=chromium [chromium-driver]=chromedriver
    [mosquitto]=mosquitto [mosquitto-clients]=mosquitto_sub [prometheus]=promtool
    [gcc-arm-none-eabi]=arm-none-eabi-gcc [libnewlib-arm-none-eabi]=/usr/lib/arm-none-eabi/newlib/rdimon.specs
    [qemu-system-arm]=qemu-system-arm [nodejs]=node [npm]=npm [openssl]=openssl
)
# The RP2040 emulator (rp2040js, pinned in firmware_io/emulation/package-lock.json) from the npm registry,
# once, so that no test downloads anything.
node_packages() {
    local dir; dir="$(dirname "$0")/../firmware_io/emulation"
    [ -d "$dir/node_modules/rp2040js" ] || ! command -v npm >/dev/null && return 0
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) || { echo "error: npm ci in $dir failed" >&2; exit 1; }
}
trap node_packages EXIT
missing=()
for pkg in "${!PROVIDES[@]}"; do
    probe=${PROVIDES[$pkg]}
    if [[ $probe == /* ]]; then [ -e "$probe" ] || missing+=("$pkg"); else command -v "$probe" >/dev/null || missing+=("$pkg"); fi
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing system packages for the real-component tests: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
        || { echo "error: apt-get install ${missing[*]} failed" >&2; exit 1; }
else
    echo "note: not root with apt-get: the tests that need ${missing[*]} will skip (CI=true makes that a failure)"
fi
