# shellcheck shell=bash
# scripts/lib.sh — shared helpers for mlflowpp's scripts. Source it, don't run it:
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# Provides:
#   ROOT / mlflowpp_root     the repository root (derived from this file's location)
#   STATE_DIR, VENV          local state (git-ignored) and the Python venv holding MLflow
#   install_system_deps      Debian packages needed to build and test
#   ensure_venv              venv with the pinned MLflow (MLFLOW_VERSION)
#   start_mlflow_server NAME [--static-prefix /p]   fresh throw-away tracking server
#   stop_mlflow_server NAME  stop it again (idempotent)
#   build_project [TYPE]     configure + build with tests and examples
#
# Everything here is idempotent and works on a fresh Debian 12 machine as root.

# Strict mode for the (non-interactive) scripts that source this file; an interactive
# shell sourcing it for convenience is spared `set -e`.
[[ $- == *i* ]] || set -euo pipefail

# --- Paths -------------------------------------------------------------------------

# The repository root: this file lives in <root>/scripts/.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
mlflowpp_root() { printf '%s\n' "$ROOT"; }

STATE_DIR="${MLFLOWPP_STATE_DIR:-$ROOT/.mlflowpp-state}"
VENV="${MLFLOWPP_VENV:-$STATE_DIR/venv}"
BUILD_DIR="${MLFLOWPP_BUILD_DIR:-$ROOT/build}"

# The MLflow release the SDK is tested against.
MLFLOW_VERSION="3.18.0"

# --- Logging ------------------------------------------------------------------------

log() { printf '[mlflowpp] %s\n' "$*" >&2; }
die() { printf '[mlflowpp] ERROR: %s\n' "$*" >&2; exit 1; }

# Run a command as root (we normally are root; fall back to sudo otherwise).
as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root (or sudo) to run: $*"
    fi
}

# --- System packages ------------------------------------------------------------------

MLFLOWPP_SYSTEM_PACKAGES=(
    build-essential cmake pkg-config git curl ca-certificates
    python3 python3-venv
    libcurl4-openssl-dev libsimdjson-dev libfmt-dev libzstd-dev catch2 clang-format
)

# True if the Debian package $1 is installed.
_deb_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

_apt_updated=0
# apt-get install the given packages, running `apt-get update` once per shell first.
_apt_install() {
    if [[ $_apt_updated -eq 0 ]]; then
        log "apt-get update"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
        _apt_updated=1
    fi
    log "apt-get install $*"
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "$@"
}

# Install the Debian packages needed to build and test, if any is missing.
install_system_deps() {
    local missing=() pkg
    for pkg in "${MLFLOWPP_SYSTEM_PACKAGES[@]}"; do
        _deb_installed "$pkg" || missing+=("$pkg")
    done
    if [[ ${#missing[@]} -eq 0 ]]; then
        log "system packages: all present"
        return 0
    fi
    log "system packages missing: ${missing[*]}"
    _apt_install "${MLFLOWPP_SYSTEM_PACKAGES[@]}"
}

# --- Python venv with MLflow -------------------------------------------------------------

# True if the venv's python imports mlflow at exactly MLFLOW_VERSION.
_venv_has_mlflow() {
    [[ -x "$VENV/bin/python" ]] || return 1
    MLFLOW_DISABLE_TELEMETRY=true "$VENV/bin/python" -c \
        "import sys, mlflow; sys.exit(0 if mlflow.__version__ == '$MLFLOW_VERSION' else 1)" \
        >/dev/null 2>&1
}

# Create $VENV. Prefers the python3 on PATH (may be pyenv's); if its venv module
# doesn't work, installs python3-venv and uses Debian's /usr/bin/python3.
_create_venv() {
    local py
    py="$(command -v python3 || true)"
    if [[ -n $py ]] && "$py" -m venv "$VENV" >/dev/null 2>&1 \
        && "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
        log "created venv $VENV with $py ($("$VENV/bin/python" -V 2>&1))"
        return 0
    fi
    log "'${py:-python3} -m venv' failed; falling back to Debian's /usr/bin/python3"
    rm -rf "$VENV"
    _deb_installed python3-venv || _apt_install python3 python3-venv
    /usr/bin/python3 -m venv "$VENV"
    log "created venv $VENV with /usr/bin/python3 ($("$VENV/bin/python" -V 2>&1))"
}

# Make sure $VENV exists and holds mlflow==MLFLOW_VERSION.
ensure_venv() {
    local start=$SECONDS
    if _venv_has_mlflow; then
        log "ensure_venv: fast path, mlflow $MLFLOW_VERSION already in $VENV"
        return 0
    fi

    # A venv whose interpreter no longer runs (e.g. its base Python was removed) or
    # that has no pip (an interrupted creation) is useless: start over.
    if [[ -d $VENV ]] && ! "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
        log "venv $VENV is broken; recreating it"
        rm -rf "$VENV"
    fi
    if [[ ! -x "$VENV/bin/python" ]]; then
        mkdir -p "$(dirname "$VENV")"
        _create_venv
    fi

    local pip=("$VENV/bin/python" -m pip install -q --disable-pip-version-check)
    local how errlog="$STATE_DIR/pip-install-mlflow.log"
    mkdir -p "$STATE_DIR"
    if "${pip[@]}" "mlflow==$MLFLOW_VERSION" 2>"$errlog"; then
        how="pip install mlflow==$MLFLOW_VERSION"
    else
        # The index may serve mlflow==X but not yet mlflow-skinny/mlflow-tracing==X,
        # which mlflow pins. The mlflow wheel holds the whole `mlflow` package, so
        # install the runtime deps by hand and then mlflow itself without deps.
        log "pip install mlflow==$MLFLOW_VERSION failed: $(tail -n 1 "$errlog")"
        log "falling back to scripts/mlflow-requirements.txt + pip install --no-deps"
        "${pip[@]}" -r "$ROOT/scripts/mlflow-requirements.txt"
        "${pip[@]}" --no-deps "mlflow==$MLFLOW_VERSION"
        how="fallback: mlflow-requirements.txt + pip install --no-deps mlflow==$MLFLOW_VERSION"
    fi

    MLFLOW_DISABLE_TELEMETRY=true "$VENV/bin/python" -c \
        "import mlflow; assert mlflow.__version__ == '$MLFLOW_VERSION', mlflow.__version__" \
        || die "mlflow $MLFLOW_VERSION is not importable from $VENV"
    log "ensure_venv: installed via $how in $((SECONDS - start)) s"
}

# --- MLflow tracking servers ---------------------------------------------------------------

# A free TCP port on 127.0.0.1 (asked from the kernel; tiny race until the server binds).
_free_port() {
    local py=python3
    [[ -x $VENV/bin/python ]] && py="$VENV/bin/python"
    "$py" -c "import socket
s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1]); s.close()"
}

# True if the server whose state lives in DIR is running (its process group exists).
_server_alive() {
    local dir=$1 pgid
    [[ -f $dir/server.pid ]] || return 1
    pgid="$(<"$dir/server.pid")"
    [[ -n $pgid ]] && kill -0 -- "-$pgid" 2>/dev/null
}

# True if the server whose state lives in DIR answers OK on /health.
_server_healthy() {
    local dir=$1 uri
    _server_alive "$dir" || return 1
    [[ -f $dir/uri ]] || return 1
    uri="$(<"$dir/uri")"
    [[ "$(curl -sf --max-time 5 "$uri/health" 2>/dev/null || true)" == OK ]]
}

# _launch_server DIR PREFIX [PORT]
# Start `mlflow server` with its state in DIR (sqlite db, artifacts, log, pid, port,
# uri files), in a new session so that its whole process group can be killed, wait
# until it's healthy, and export MLFLOW_TRACKING_URI. PREFIX is "" or e.g. "/mlflow";
# PORT defaults to a free one. DIR is not wiped here: callers decide whether state
# is fresh.
_launch_server() {
    local dir=$1 prefix=$2 port=${3:-} uri i
    mkdir -p "$dir/mlartifacts"
    dir="$(cd "$dir" && pwd -P)"
    [[ -n $port ]] || port="$(_free_port)"
    uri="http://127.0.0.1:$port$prefix"

    export MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false
    export MLFLOW_DISABLE_TELEMETRY=true

    local cmd=("$VENV/bin/python" -m mlflow server
        --host 127.0.0.1 --port "$port"
        --backend-store-uri "sqlite:///$dir/mlflow.db"
        --artifacts-destination "$dir/mlartifacts"
        --workers 1)
    [[ -n $prefix ]] && cmd+=(--static-prefix "$prefix")

    rm -f "$dir/server.pid"
    printf '%s\n' "$port" >"$dir/port"
    printf '%s\n' "$uri" >"$dir/uri"
    log "starting mlflow server in $dir on $uri"
    # setsid makes the inner bash a session (and process group) leader; it records its
    # own pid, which is thus the process group id, then execs the server.
    # shellcheck disable=SC2016  # expanded by the inner bash, on purpose
    setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$dir/server.pid" "${cmd[@]}" \
        </dev/null >"$dir/server.log" 2>&1 &

    # Wait up to 90 s for /health to answer OK.
    for ((i = 0; i < 180; i++)); do
        if [[ "$(curl -sf --max-time 2 "$uri/health" 2>/dev/null || true)" == OK ]]; then
            export MLFLOW_TRACKING_URI="$uri"
            log "mlflow server up after ~$((i / 2)) s: $uri (pid $(<"$dir/server.pid"))"
            return 0
        fi
        if [[ -f $dir/server.pid ]] && ! _server_alive "$dir"; then
            break  # the server died: no point in waiting longer
        fi
        sleep 0.5
    done
    log "mlflow server in $dir did not become healthy; last 40 lines of its log:"
    tail -n 40 "$dir/server.log" >&2 || true
    _stop_server_dir "$dir"
    return 1
}

# Stop the server whose state lives in DIR: TERM its process group, KILL after 10 s.
_stop_server_dir() {
    local dir=$1 pgid i
    if ! _server_alive "$dir"; then
        rm -f "$dir/server.pid"
        return 0
    fi
    pgid="$(<"$dir/server.pid")"
    kill -TERM -- "-$pgid" 2>/dev/null || true
    for ((i = 0; i < 20; i++)); do
        kill -0 -- "-$pgid" 2>/dev/null || break
        sleep 0.5
    done
    if kill -0 -- "-$pgid" 2>/dev/null; then
        log "server (pgid $pgid) ignored TERM for 10 s; sending KILL"
        kill -KILL -- "-$pgid" 2>/dev/null || true
    fi
    rm -f "$dir/server.pid"
    log "stopped mlflow server in $dir"
}

# Parse the optional `--static-prefix /p` argument; prints the normalised prefix.
_parse_prefix() {
    local prefix=""
    while [[ $# -gt 0 ]]; do
        case $1 in
            --static-prefix) [[ $# -ge 2 ]] || die "--static-prefix needs a value"
                             prefix=$2; shift 2 ;;
            --static-prefix=*) prefix=${1#*=}; shift ;;
            *) die "unknown server option: $1" ;;
        esac
    done
    if [[ -n $prefix ]]; then
        prefix="/${prefix#/}"   # exactly one leading slash
        prefix="${prefix%/}"    # no trailing slash
    fi
    printf '%s' "$prefix"
}

# start_mlflow_server NAME [--static-prefix /prefix]
# Start a throw-away server with fresh state in $STATE_DIR/servers/NAME and export
# MLFLOW_TRACKING_URI (with the prefix appended, if any). Pair with a trap calling
# stop_mlflow_server NAME so the server never outlives the calling script.
start_mlflow_server() {
    [[ $# -ge 1 ]] || die "usage: start_mlflow_server NAME [--static-prefix /prefix]"
    local name=$1 prefix dir="$STATE_DIR/servers/$1"
    shift
    prefix="$(_parse_prefix "$@")" || return 1
    [[ -x "$VENV/bin/python" ]] || die "no venv at $VENV: call ensure_venv first"
    _stop_server_dir "$dir"    # a leftover from an earlier, interrupted run
    rm -rf "$dir"
    mkdir -p "$dir"
    _launch_server "$dir" "$prefix" || die "could not start mlflow server '$name'"
}

# stop_mlflow_server NAME — stop the server started by start_mlflow_server NAME.
stop_mlflow_server() {
    [[ $# -eq 1 ]] || die "usage: stop_mlflow_server NAME"
    _stop_server_dir "$STATE_DIR/servers/$1"
}

# --- Build ---------------------------------------------------------------------------------

# build_project [BUILD_TYPE] — configure and build into $BUILD_DIR (default $ROOT/build)
# with tests and examples. Uses Ninja when installed, unless the build dir was already
# configured with another generator (CMake refuses to switch generators in place).
build_project() {
    local build_type=${1:-RelWithDebInfo} gen_args=() cached_gen=""
    if [[ -f $BUILD_DIR/CMakeCache.txt ]]; then
        cached_gen="$(sed -n 's/^CMAKE_GENERATOR:INTERNAL=//p' "$BUILD_DIR/CMakeCache.txt")"
    fi
    if [[ -n $cached_gen ]]; then
        gen_args=(-G "$cached_gen")
    elif command -v ninja >/dev/null 2>&1; then
        gen_args=(-G Ninja)
    fi
    log "configuring $BUILD_DIR ($build_type${gen_args[1]:+, ${gen_args[1]}})"
    cmake -S "$ROOT" -B "$BUILD_DIR" "${gen_args[@]}" \
        -DCMAKE_BUILD_TYPE="$build_type" \
        -DMLFLOWPP_BUILD_TESTS=ON -DMLFLOWPP_BUILD_EXAMPLES=ON
    log "building with $(nproc) jobs"
    cmake --build "$BUILD_DIR" -j"$(nproc)"
}
