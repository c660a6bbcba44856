#!/usr/bin/env bash
# The Pi side on the Pi's own userland: Debian 12 (bookworm, Python 3.11.2) for arm64 or armhf, emulated
# with qemu-user-static through binfmt_misc, with the edge extra installed the way the Pi guide says.
#
#   .ci/arm-edge.sh arm64|armhf [--rootfs-only]
#
# Runs inside the emulated userland:
#   1. the edge tests (everything that does not need TensorFlow; the bundles they use are built first by the
#      host's .venv and handed in through BEARING_EDGE_TEST_BUNDLES),
#   2. bearing-agent check-bundle and score on the demo bundle, compared with the host's score output
#      (max |error difference|, decision flips: the goal is 0 flips),
#   3. bearing-replay --pty and bearing-agent run, both emulated, on the 25 bundled raw snapshots; the
#      journal is compared with offline scoring.
# Each step prints its time. Root with apt-get only (it installs packages, mounts and chroots).
#
# Caches (outside the repo): $ARM_EDGE_CACHE (default /var/cache/bearing-edge/arm)/<arch>/rootfs-<key>, one
# per package list and mirror; the venv inside is rebuilt when pyproject.toml changes.
# Environment: QEMU_CPU (default cortex-a72 on arm64, cortex-a15 on armhf), ARM_EDGE_CACHE, ARM_EDGE_TESTS
# (space-separated test paths for step 1 instead of the whole edge subset, e.g. to re-run what failed).
set -euo pipefail

usage() { echo "usage: $0 arm64|armhf [--rootfs-only]" >&2; exit 2; }
ARCH=${1:-}
case "$ARCH" in arm64 | armhf) ;; *) usage ;; esac
ROOTFS_ONLY=0
[ "${2:-}" = "--rootfs-only" ] && ROOTFS_ONLY=1

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "error: $0 needs root on a Debian/Ubuntu host with apt-get (it installs qemu-user-static," \
         "binfmt-support and mmdebstrap, mounts /proc etc. into a chroot and enters it); CI runs it as root." >&2
    exit 1
fi

REPO=$(cd "$(dirname "$0")/.." && pwd)
SUITE=bookworm
CACHE=${ARM_EDGE_CACHE:-/var/cache/bearing-edge/arm}/$ARCH
case "$ARCH" in
    arm64) QEMU=qemu-aarch64; GUEST_MACHINE=aarch64; export QEMU_CPU=${QEMU_CPU:-cortex-a72} ;;
    armhf) QEMU=qemu-arm; GUEST_MACHINE=armv7l; export QEMU_CPU=${QEMU_CPU:-cortex-a15} ;;
esac
# libstdc++6: numpy's and LiteRT's wheels link it, and the essential variant does not have it.
# mount: the journal tests fill and freeze a small tmpfs of their own (tests/filesystems.py).
PACKAGES="python3,python3-venv,libstdc++6,mount,openssl"  # openssl: the bundle-signature test makes keys with it
# armhf: PyPI has no armv7l numpy wheel for any version (building it under emulation takes ~50 minutes);
# Debian's python3-numpy is what a 32-bit Pi uses, through a --system-site-packages venv.
[ "$ARCH" = armhf ] && PACKAGES="$PACKAGES,python3-numpy"

# --- timing: every step prints its time, and the summary is printed on every exit -----------------------
STEP_TIMES=()
RUN_START=$SECONDS
TIMEFORMAT='   %R s wall, %U s user + %S s system CPU'   # what `time` prints below
step() {  # step NAME COMMAND...: run COMMAND, print and record how long it took
    local name=$1 start=$SECONDS
    shift
    echo "== [$ARCH] $name" >&2
    "$@"
    STEP_TIMES+=("$(printf '%5d s  %s' $((SECONDS - start)) "$name")")
    echo "== [$ARCH] $name: $((SECONDS - start)) s" >&2
}

FAILED=()
check() {  # check NAME COMMAND...: like step, but a failure is recorded and the next checks still run
    local name=$1 start=$SECONDS rc
    shift
    echo "== [$ARCH] $name" >&2
    set +e
    # A subshell with -e of its own (a function called from an `if` would ignore -e); it stops what it
    # started in the background on every exit.
    (set -e; trap 'for pid in "${GUEST_PIDS[@]}"; do kill "$pid" 2>/dev/null; done' EXIT; "$@")
    rc=$?
    set -e
    local result=passed
    [ "$rc" = 0 ] || { result="FAILED (exit code $rc)"; FAILED+=("$name"); }
    STEP_TIMES+=("$(printf '%5d s  %s: %s' $((SECONDS - start)) "$name" "$result")")
    echo "== [$ARCH] $name: $((SECONDS - start)) s, $result" >&2
}

MOUNTS=()       # mount points inside the rootfs, in mount order (unmounted in reverse)
GUEST_PIDS=()   # emulated processes this script started in the background
cleanup() {
    local rc=$?
    for pid in "${GUEST_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
        umount "${MOUNTS[$i]}" 2>/dev/null || umount -l "${MOUNTS[$i]}" 2>/dev/null \
            || echo "warning: could not unmount ${MOUNTS[$i]}" >&2
    done
    [ -n "${LOCK_FD:-}" ] && exec {LOCK_FD}>&-
    echo "== [$ARCH] step times:" >&2
    for line in "${STEP_TIMES[@]}"; do echo "$line" >&2; done
    echo "== [$ARCH] total $((SECONDS - RUN_START)) s, exit code $rc" >&2
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. the host: packages and binfmt_misc --------------------------------------------------------------
host_tools() {
    local missing=()
    command -v "$QEMU-static" >/dev/null || missing+=(qemu-user-static)
    command -v update-binfmts >/dev/null || missing+=(binfmt-support)
    command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
    # mmdebstrap refuses a foreign architecture without it ("install arch-test"): a recommends, not a dependency
    command -v arch-test >/dev/null || missing+=(arch-test)
    if [ ${#missing[@]} -gt 0 ]; then
        echo "installing ${missing[*]}" >&2
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    # A fresh VM may not have binfmt_misc mounted; the packages register their handlers once it is.
    if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
        mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
    fi
    [ -e "/proc/sys/fs/binfmt_misc/$QEMU" ] || update-binfmts --enable "$QEMU"
    # The F flag makes the kernel open the interpreter at registration, so it works inside the chroot
    # without a copy of qemu in the rootfs.
    if ! grep -q '^flags:.*F' "/proc/sys/fs/binfmt_misc/$QEMU"; then
        echo "error: binfmt_misc handler $QEMU lacks the F (fix binary) flag:" \
             "$(grep '^flags' "/proc/sys/fs/binfmt_misc/$QEMU")" >&2
        exit 1
    fi
}

# --- 2. the rootfs: Debian 12 for ARCH from the host's own apt mirrors, cached by package list ----------
host_sources() {  # one "deb URI SUITE main" line per suite, from the mirrors the host's apt uses
    local suite uri
    for suite in "$SUITE" "$SUITE-updates" "$SUITE-security"; do
        uri=$(apt-get indextargets --format '$(SITE) $(RELEASE)' 'Created-By: Packages' \
              | awk -v s="$suite" '$2 == s { print $1; exit }')
        if [ -z "$uri" ]; then
            [ "$suite" = "$SUITE" ] && uri=http://deb.debian.org/debian
            [ "$suite" = "$SUITE-security" ] && uri=http://deb.debian.org/debian-security
        fi
        [ -n "$uri" ] && echo "deb $uri $suite main"
    done
}

build_rootfs() {
    if [ -e "$ROOTFS/.complete" ]; then
        echo "reusing $ROOTFS" >&2
        return
    fi
    rm -rf "$ROOTFS.partial"
    local sources=()
    mapfile -t sources < <(host_sources)
    # essential + the three packages: the smallest userland that runs python3 -m venv and the wheels.
    # Built aside and renamed, so that an interrupted build is never reused.
    nice -n 10 mmdebstrap --mode=root --arch="$ARCH" --variant=essential --include="$PACKAGES" \
        --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        "$SUITE" "$ROOTFS.partial" "${sources[@]}"
    touch "$ROOTFS.partial/.complete"
    mv "$ROOTFS.partial" "$ROOTFS"
}

host_tools
# The rest runs in a private mount namespace: no mount made below can propagate to the host's /dev or /proc
# (on a systemd host / is shared), and a killed run leaves no mount behind. The trap still unmounts in order.
if [ -z "${_ARM_EDGE_PRIVATE_MOUNTS:-}" ]; then
    exec unshare --mount --propagation private env _ARM_EDGE_PRIVATE_MOUNTS=1 "$0" "$@"
fi
mkdir -p "$CACHE"
# One run per architecture at a time: the rootfs is shared by runs.
exec {LOCK_FD}>"$CACHE/.lock"
flock -w 3600 "$LOCK_FD" || { echo "error: another $0 $ARCH run holds $CACHE/.lock" >&2; exit 1; }
KEY=$(printf '%s\n' "$SUITE" "$ARCH" "$PACKAGES" "$(host_sources)" | sha256sum | cut -c1-12)
ROOTFS=$CACHE/rootfs-$KEY
step "rootfs (Debian 12 $ARCH: $PACKAGES)" build_rootfs
[ "$ROOTFS_ONLY" = 1 ] && exit 0

# --- 3. inside: mounts, the repo, the venv as the Pi guide says ------------------------------------------
G=/opt/bearing-edge            # the guide's install prefix, inside the rootfs
SRC=$G/src WORK=$G/work VENV=$G/venv
HOST_WORK=$ROOTFS$WORK

mount_in() {  # mount_in DIR MOUNT-ARGS...: mount onto $ROOTFS/DIR and remember it for the unmount trap
    local dir=$ROOTFS$1
    shift
    [ -e "$dir" ] || mkdir -p "$dir"   # (a file such as /dev/ptmx or /proc/cpuinfo is mounted over as it is)
    mount "$@" "$dir"
    MOUNTS+=("$dir")
}

bind_mounts() {
    mount_in /proc -t proc proc
    mount_in /sys -t sysfs sysfs
    mount_in /dev --bind /dev
    # A private devpts: the pty tests and bearing-replay --pty open /dev/ptmx inside the chroot.
    mount_in /dev/pts -t devpts devpts -o newinstance,ptmxmode=0666,mode=620
    mount_in /dev/ptmx --bind "$ROOTFS/dev/pts/ptmx"
    mount_in /dev/shm -t tmpfs shm -o mode=1777
    # qemu-user 7.2 shows the guest the host's x86 /proc/cpuinfo, and LiteRT's CPU probe then crashes in
    # Interpreter(): give the guest the cpuinfo of a Raspberry Pi 4's cores (Cortex-A72).
    cpuinfo > "$CACHE/cpuinfo"
    mount_in /proc/cpuinfo --bind "$CACHE/cpuinfo"
    # pip verifies HTTPS with the host's CA bundle (the host may trust a proxy's CA the rootfs does not).
    mkdir -p "$ROOTFS/etc/ssl/certs"
    cp "$(host_ca_bundle)" "$ROOTFS/etc/ssl/certs/host-ca.crt"
    cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf" 2>/dev/null || true
    # The packed full IMS test 2 (96 MB, beside the clone as in CI: ../shared), read-only where the tests
    # look for it (the repo copy's ../shared), so the 984-snapshot agent tests run emulated too.
    local full=$REPO/../shared/data/ims/full
    if [ -d "$full" ]; then
        mount_in "$(dirname "$SRC")/shared/data/ims/full" --bind "$full"
        mount -o remount,bind,ro "$ROOTFS$(dirname "$SRC")/shared/data/ims/full"
    fi
}

cpuinfo() {
    local n
    for ((n = 0; n < $(nproc); n++)); do
        if [ "$ARCH" = arm64 ]; then
            printf 'processor\t: %d\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\n' "$n"
            printf 'CPU implementer\t: 0x41\nCPU architecture: 8\n'
        else
            printf 'processor\t: %d\nmodel name\t: ARMv7 Processor rev 3 (v7l)\nBogoMIPS\t: 108.00\n' "$n"
            printf 'Features\t: half thumb fastmult vfp edsp neon vfpv3 tls vfpv4 idiva idivt vfpd32 lpae evtstrm crc32\n'
            printf 'CPU implementer\t: 0x41\nCPU architecture: 7\n'
        fi
        printf 'CPU variant\t: 0x0\nCPU part\t: 0xd08\nCPU revision\t: 3\n\n'
    done
}

host_ca_bundle() {
    local f
    for f in "${PIP_CERT:-}" "${SSL_CERT_FILE:-}" /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt; do
        [ -n "$f" ] && [ -f "$f" ] && { echo "$f"; return; }
    done
    echo "error: no CA bundle on the host for pip's HTTPS in the rootfs" >&2
    return 1
}

# The guest gets a clean environment (host variables such as PIP_FIND_LINKS would point at host paths), plus
# the host's index and proxy settings when it has any, so pip reaches the same registry as the host.
GUEST_ENV=(BEARING_EDGE_EMULATED=1 HOME=/root LANG=C.UTF-8 PATH=$VENV/bin:/usr/local/bin:/usr/bin:/bin QEMU_CPU=$QEMU_CPU
           PIP_CERT=/etc/ssl/certs/host-ca.crt PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_DEFAULT_TIMEOUT=180
           PIP_NO_CACHE_DIR=1 PIP_RETRIES=10 PYTHONDONTWRITEBYTECODE=1)
for var in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
    [ -n "${!var:-}" ] && GUEST_ENV+=("$var=${!var}")
done
index=$(pip3 config get global.index-url 2>/dev/null || python3 -m pip config get global.index-url 2>/dev/null || true)
case "$index" in http*) GUEST_ENV+=("PIP_INDEX_URL=$index") ;; esac

guest() {  # guest COMMAND...: run in the emulated userland, in the repo copy, with the clean environment
    chroot "$ROOTFS" /usr/bin/env -i "${GUEST_ENV[@]}" /bin/sh -c 'cd "$0" && exec "$@"' "$SRC" "$@"
}

guest_bg() {  # guest_bg LOG COMMAND...: guest COMMAND in the background; every exec chains, so $! is its pid
    local log=$1
    shift
    (exec chroot "$ROOTFS" /usr/bin/env -i "${GUEST_ENV[@]}" /bin/sh -c 'cd "$0" && exec "$@"' "$SRC" "$@" \
        > "$log" 2>&1) &
    GUEST_PIDS+=($!)
}

prepare_guest() {
    bind_mounts
    copy_repo
}

copy_repo() {
    rm -rf "$ROOTFS$SRC" "$HOST_WORK"
    mkdir -p "$ROOTFS$SRC" "$HOST_WORK"
    # What git tracks, as a clean clone has it: no .venv, no demo-output, no caches.
    # (--others --exclude-standard: files not yet committed, when run from a working tree; none in a clone.)
    git -C "$REPO" ls-files -z --cached --others --exclude-standard \
        | tar -C "$REPO" --null --no-recursion --ignore-failed-read -T - -cf - 2>/dev/null \
        | tar -xf - -C "$ROOTFS$SRC"
}

# armhf: Debian's numpy through --system-site-packages (see PACKAGES), tflite-runtime in place of ai-edge-litert.
EDGE_INSTALL=("$SRC[edge]")
[ "$ARCH" = armhf ] && EDGE_INSTALL+=("tflite-runtime==2.14.0" "numpy<2")
TEST_TOOLS=("pytest>=8" "pytest-timeout>=2.3" "hypothesis>=6.100")
# The venv is rebuilt when what it installs changes: these lists, the core dependencies or the edge extra.
edge_requirements() { python3 -c 'import sys, tomllib; p = tomllib.load(open(sys.argv[1], "rb"))["project"]
print(p["dependencies"], p["optional-dependencies"]["edge"])' "$REPO/pyproject.toml"; }
VENV_KEY=$(printf '%s\n' "${EDGE_INSTALL[*]} ${TEST_TOOLS[*]}" "$(edge_requirements)" | sha256sum | cut -c1-12)

make_venv() {
    if [ "$(cat "$ROOTFS$VENV/.key" 2>/dev/null)" = "$VENV_KEY" ]; then
        echo "reusing $VENV; installing what is missing, and the project from this checkout" >&2
        guest pip install --quiet "${EDGE_INSTALL[@]}"
        guest pip install --quiet --no-deps --force-reinstall "$SRC"
        return
    fi
    # The edge install is kept once it succeeded, so that a registry hiccup in the test tools does not
    # cost it again.
    if [ "$(cat "$ROOTFS$VENV/.edge-key" 2>/dev/null)" != "$VENV_KEY" ]; then
        rm -rf "$ROOTFS$VENV"
        # Exactly the Pi guide's commands (docs/edge_agent.md, "Put it on a Raspberry Pi").
        guest python3 -m venv --system-site-packages "$VENV"
        guest pip install --quiet "${EDGE_INSTALL[@]}"
        echo "$VENV_KEY" > "$ROOTFS$VENV/.edge-key"
    fi
    guest pip install --quiet "${TEST_TOOLS[@]}"
    echo "$VENV_KEY" > "$ROOTFS$VENV/.key"
    guest python -c 'import platform, sys, numpy; print("guest:", platform.machine(), "Python", sys.version.split()[0], "numpy", numpy.__version__, "from", numpy.__file__)'
    guest pip list --format=freeze | grep -iE '^(numpy|ai-edge-litert|tflite-runtime|gpiozero|pyserial)=' >&2
}

# --- 4. the host side: bundles the tests need, the demo bundle, and its x86 scores ----------------------
HOST_PY=$REPO/.venv/bin/python
# The repo's data paths, from their one owner (relative to the repo, so the same inside the copy).
ims_path() { (cd "$REPO" && python3 -c "import sys; sys.path.insert(0, '.'); from firmware_io.recordings import ims
print(getattr(ims, sys.argv[1]).relative_to(ims.REPO_ROOT))" "$1"); }
RAW_TEST2=$(ims_path RAW_TEST2_DIR)
FEATURES_TEST2=$(ims_path FEATURES_TEST2)
host_bundles() {
    [ -x "$HOST_PY" ] || make -C "$REPO" venv
    # The tests' own bundle fixtures (tests/conftest.py), built by the host's TensorFlow and written out.
    # (Run from the repo, as modules: the code is this checkout's even when .venv is another checkout's.)
    (cd "$REPO" && BEARING_EDGE_EXPORT_TEST_BUNDLES=$HOST_WORK/test-bundles nice -n 10 "$HOST_PY" -m pytest -q \
        -p no:cacheprovider tests/support/export_test_bundles.py)
    # The demo bundle, as `make demo` builds it; its log is kept beside it.
    (cd "$REPO" && nice -n 10 "$HOST_PY" -m demo.run --out "$HOST_WORK/demo" > "$HOST_WORK/demo.log" 2>&1) \
        || { tail -20 "$HOST_WORK/demo.log" >&2; return 1; }
    echo "x86 (host .venv): bearing-agent score of the demo bundle, 984 snapshots:" >&2
    time (cd "$REPO" && "$HOST_PY" -m edge_agent.cli.main score --bundle "$HOST_WORK/demo/bundle.tar.gz" \
        "$FEATURES_TEST2" -o "$HOST_WORK/scores-x86.csv")
}

# --- 5. the three checks in the emulated Pi -----------------------------------------------------------
edge_tests() {
    local hypothesis_modules=() ignore=() m
    # tflite-runtime 2.14 on armhf turns on flush-to-zero for the whole process when it is imported, and
    # hypothesis refuses to draw floats then: the hypothesis modules run first, in a process of their own.
    mapfile -t hypothesis_modules < <(cd "$ROOTFS$SRC" && grep -rlE '^(from|import) hypothesis' tests --include='test_*.py' | sort)
    for m in "${hypothesis_modules[@]}"; do ignore+=(--ignore "$m"); done
    # The emulated CPU is 10-30x slower: the "emulated" hypothesis profile (tests/conftest.py) drops the
    # per-example deadline, nothing else.
    local pytest=(env BEARING_EDGE_TEST_BUNDLES=$WORK/test-bundles python -m pytest -q -p no:cacheprovider
                  --hypothesis-profile=emulated)
    # tests/train and tests/convert test the desktop's packages (TensorFlow, Keras, scikit-learn, pandas:
    # the [train] extra a Pi does not install). ARM_EDGE_TESTS narrows the run to some test paths (to
    # re-run what failed); the default is the whole edge subset.
    local paths=(tests) selected=() rc=0
    [ -n "${ARM_EDGE_TESTS:-}" ] && read -ra paths <<< "$ARM_EDGE_TESTS"
    for m in "${hypothesis_modules[@]}"; do
        for p in "${paths[@]}"; do [[ $m == "$p"* ]] && { selected+=("$m"); break; }; done
    done
    [ ${#selected[@]} -eq 0 ] || guest "${pytest[@]}" "${selected[@]}" || rc=1
    guest "${pytest[@]}" "${ignore[@]}" --ignore tests/train --ignore tests/convert "${paths[@]}" || rc=1
    return "$rc"
}

demo_bundle_scores() {
    guest bearing-agent check-bundle "$WORK/demo/bundle.tar.gz"
    echo "$ARCH (emulated): bearing-agent score of the demo bundle, 984 snapshots:" >&2
    time guest bearing-agent score --bundle "$WORK/demo/bundle.tar.gz" "$FEATURES_TEST2" \
        -o "$WORK/scores-$ARCH.csv"
    echo "$ARCH against x86, bearing-agent score of the demo bundle on the 984 snapshots of IMS test 2:"
    guest python .ci/arm_compare.py scores "$WORK/scores-x86.csv" "$WORK/scores-$ARCH.csv"
}

pty_end_to_end() {
    local link=$WORK/pty/accelerometer journal=$WORK/pty/journal.sqlite n i
    mkdir -p "$HOST_WORK/pty"
    cat > "$HOST_WORK/pty/agent.toml" <<TOML
[agent]
bundle = "$WORK/demo/bundle.tar.gz"
interval_s = 0.0
[serial]
port = "$link"
[gpio]
pin_factory = "mock"
[journal]
path = "$journal"
TOML
    n=$(find "$ROOTFS$SRC/$RAW_TEST2" -maxdepth 1 -type f -name '2004*' | wc -l)
    local started=$SECONDS
    guest_bg "$HOST_WORK/pty/replay.log" bearing-replay --pty --link "$link" --speed 0 "$RAW_TEST2"
    for ((i = 0; i < 600; i++)); do [ -e "$ROOTFS$link" ] && break; sleep 0.1; done
    guest_bg "$HOST_WORK/pty/agent.log" bearing-agent run --config "$WORK/pty/agent.toml"
    # Both run emulated: wait (generously; ~11 s measured) until the journal holds every replayed snapshot.
    # The host reads the journal, so the polling costs no emulated interpreter start.
    local count=0 deadline=$((SECONDS + 600))
    while [ "$count" != "$n" ] && [ $SECONDS -lt $deadline ]; do
        # an agent that exited (a refused bundle, a bad config) will journal nothing more: stop waiting
        kill -0 "${GUEST_PIDS[1]}" 2>/dev/null || { echo "bearing-agent run exited early:" >&2; break; }
        sleep 0.5
        count=$(python3 -c 'import sqlite3, sys
try: print(sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True).execute("SELECT count(*) FROM snapshots").fetchone()[0])
except sqlite3.Error: print(0)' "$ROOTFS$journal")
    done
    # CPU the emulated agent used so far (start-up and imports included), from the host's view of its process.
    local agent_cpu
    agent_cpu=$(awk -v hz="$(getconf CLK_TCK)" '{ printf "%.1f", ($14 + $15) / hz }' "/proc/${GUEST_PIDS[1]}/stat" 2>/dev/null || echo "?")
    echo "journal holds $count of $n replayed snapshots after $((SECONDS - started)) s; bearing-agent run used $agent_cpu s CPU" >&2
    kill -TERM "${GUEST_PIDS[@]}" 2>/dev/null || true
    wait "${GUEST_PIDS[@]}" 2>/dev/null || true
    GUEST_PIDS=()
    tail -n 3 "$HOST_WORK/pty/agent.log" >&2
    # Offline scoring, in the emulated Pi, of the same snapshots' features as the demo's ingest wrote them.
    guest bearing-agent score --bundle "$WORK/demo/bundle.tar.gz" "$WORK/demo/raw_test2_features.csv" \
        -o "$WORK/pty/offline.csv"
    echo "$ARCH pty end-to-end: bearing-replay -> pty -> bearing-agent run, journal against offline scoring:"
    guest python .ci/arm_compare.py journal "$journal" "$WORK/pty/offline.csv" --atol 1e-6
}

step "mounts, and the repo copied in (git ls-files)" prepare_guest
step "venv: pip install ${EDGE_INSTALL[*]} (+ ${TEST_TOOLS[*]})" make_venv
step "host: test bundles, demo bundle and its x86 scores (.venv)" host_bundles
check "edge tests in the emulated $ARCH userland" edge_tests
check "check-bundle and score of the demo bundle, against x86" demo_bundle_scores
check "pty end-to-end: bearing-replay + bearing-agent run, both emulated" pty_end_to_end
if [ ${#FAILED[@]} -gt 0 ]; then
    echo "== [$ARCH] FAILED: ${FAILED[*]}" >&2
    exit 1
fi
echo "== [$ARCH] every check passed" >&2
