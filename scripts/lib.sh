# shellcheck shell=bash
# scripts/lib.sh — shared helpers for mlflowpp's scripts. Source it, don't run it:
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# Provides:
#   ROOT / mlflowpp_root     the repository root (derived from this file's location)
#   STATE_DIR, VENV          local state (git-ignored) and the Python venv holding MLflow
#   install_system_deps      Debian packages needed to build and test (MLFLOWPP_WITH_LIBTORCH=0:
#                            all but libtorch-dev)
#   ensure_venv              venv with the pinned MLflow (MLFLOW_VERSION)
#   start_mlflow_server NAME [--static-prefix /p] [--backend-store-uri URI] [--workers N]
#                            fresh throw-away tracking server (default: SQLite, 1 worker)
#   stop_mlflow_server NAME  stop it again (idempotent)
#   start_tls_proxy NAME UPSTREAM_URL   nginx with TLS, Basic/Bearer auth and mTLS in front
#   stop_tls_proxy NAME      stop it again (idempotent)
#   start_postgres NAME      throw-away PostgreSQL cluster on loopback; exports
#                            MLFLOWPP_POSTGRES_URI (needs MLFLOWPP_POSTGRES_PACKAGES)
#   stop_postgres NAME       stop it again (idempotent)
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

# Three lists, one per job (tests/lint/check_package_lists.sh keeps them apart):
# - MLFLOWPP_BUILD_PACKAGES: building the library and its examples. scripts/demo.sh (the
#   main job) installs these only: no Python, no LibTorch, no servers, no sanitizers.
MLFLOWPP_BUILD_PACKAGES=(
    build-essential cmake pkg-config git curl ca-certificates
    libcurl4-openssl-dev libsimdjson-dev libfmt-dev libzstd-dev libsqlite3-dev
)
# - MLFLOWPP_UI_PACKAGES: `scripts/demo.sh --ui` (the pinned MLflow in a venv serving the UI).
MLFLOWPP_UI_PACKAGES=(python3 python3-venv curl ca-certificates)
# - MLFLOWPP_TEST_PACKAGES: building and running every test besides (servers, proxies,
#   sanitizers, fuzzers, lint, the benchmark's --quick run with PostgreSQL), plus LibTorch 1.13 (CPU) for examples/libtorch_train and its
#   tests. libtorch-dev depends on all that find_package(Torch) needs (libprotobuf-dev,
#   libgoogle-glog-dev, libgflags-dev, python3-dev); nothing more with
#   --no-install-recommends. It is big: ~125 MB of .debs, ~500 MB installed (libtorch1.13
#   pulls OpenCV, GDAL, Qt5 and codec libraries), about a minute to install.
#   MLFLOWPP_WITH_LIBTORCH=0 leaves it out; without it CMake skips the example and its tests.
# - MLFLOWPP_POSTGRES_PACKAGES: a PostgreSQL backend store (scripts/bench.sh, start_postgres).
MLFLOWPP_POSTGRES_PACKAGES=(postgresql)
# - MLFLOWPP_BENCH_PACKAGES: scripts/bench.sh besides the above (Google Benchmark).
MLFLOWPP_BENCH_PACKAGES=(libbenchmark-dev)
MLFLOWPP_TEST_PACKAGES=(
    "${MLFLOWPP_BUILD_PACKAGES[@]}"
    "${MLFLOWPP_UI_PACKAGES[@]}"
    "${MLFLOWPP_POSTGRES_PACKAGES[@]}"
    "${MLFLOWPP_BENCH_PACKAGES[@]}"
    catch2 clang-format
    nginx openssl clang libclang-rt-14-dev
)
if [[ ${MLFLOWPP_WITH_LIBTORCH:-1} != 0 ]]; then
    MLFLOWPP_TEST_PACKAGES+=(libtorch-dev)
fi

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

# install_system_deps [PACKAGE...] — install the given Debian packages (default: all
# that building and testing need, MLFLOWPP_TEST_PACKAGES), if any is missing.
install_system_deps() {
    local wanted=("$@") missing=() pkg
    [[ ${#wanted[@]} -gt 0 ]] || wanted=("${MLFLOWPP_TEST_PACKAGES[@]}")
    for pkg in "${wanted[@]}"; do
        _deb_installed "$pkg" || missing+=("$pkg")
    done
    if [[ ${#missing[@]} -eq 0 ]]; then
        log "system packages: all present"
        return 0
    fi
    log "system packages missing: ${missing[*]}"
    _apt_install "${wanted[@]}"
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

# _launch_server DIR PREFIX [PORT [BACKEND_URI [WORKERS]]]
# Start `mlflow server` with its state in DIR (sqlite db, artifacts, log, pid, port,
# uri files), in a new session so that its whole process group can be killed, wait
# until it's healthy, and export MLFLOW_TRACKING_URI. PREFIX is "" or e.g. "/mlflow";
# PORT defaults to a free one, BACKEND_URI to sqlite:///DIR/mlflow.db, WORKERS to 1. DIR
# is not wiped here: callers decide whether state is fresh. The server's log (server.log,
# one uvicorn access line per request) is what scripts/bench.sh counts requests in.
_launch_server() {
    local dir=$1 prefix=$2 port=${3:-} backend=${4:-} workers=${5:-1} uri i
    mkdir -p "$dir/mlartifacts"
    dir="$(cd "$dir" && pwd -P)"
    [[ -n $port ]] || port="$(_free_port)"
    [[ -n $backend ]] || backend="sqlite:///$dir/mlflow.db"
    uri="http://127.0.0.1:$port$prefix"

    export MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false
    export MLFLOW_DISABLE_TELEMETRY=true

    local cmd=("$VENV/bin/python" -m mlflow server
        --host 127.0.0.1 --port "$port"
        --backend-store-uri "$backend"
        --artifacts-destination "$dir/mlartifacts"
        --workers "$workers")
    [[ -n $prefix ]] && cmd+=(--static-prefix "$prefix")

    rm -f "$dir/server.pid"
    printf '%s\n' "$port" >"$dir/port"
    printf '%s\n' "$uri" >"$dir/uri"
    printf '%s\n' "$workers" >"$dir/workers"
    printf '%s\n' "$backend" >"$dir/backend"
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

# _kill_group PGID WHAT: TERM the process group, KILL it if it is still there after 10 s.
_kill_group() {
    local pgid=$1 what=$2 i
    kill -TERM -- "-$pgid" 2>/dev/null || true
    for ((i = 0; i < 20; i++)); do
        kill -0 -- "-$pgid" 2>/dev/null || break
        sleep 0.5
    done
    if kill -0 -- "-$pgid" 2>/dev/null; then
        log "$what (pgid $pgid) ignored TERM for 10 s; sending KILL"
        kill -KILL -- "-$pgid" 2>/dev/null || true
    fi
}

# Stop the server whose state lives in DIR: TERM its process group, KILL after 10 s.
_stop_server_dir() {
    local dir=$1
    if ! _server_alive "$dir"; then
        rm -f "$dir/server.pid"
        return 0
    fi
    _kill_group "$(<"$dir/server.pid")" server
    rm -f "$dir/server.pid"
    log "stopped mlflow server in $dir"
}

# _parse_server_options ARGS...: reads `--static-prefix /p`, `--backend-store-uri URI` and
# `--workers N` into the caller's variables prefix (normalised), backend and workers.
_parse_server_options() {
    prefix="" backend="" workers=1
    while [[ $# -gt 0 ]]; do
        case $1 in
            --static-prefix|--backend-store-uri|--workers)
                [[ $# -ge 2 ]] || die "$1 needs a value"
                case $1 in
                    --static-prefix) prefix=$2 ;;
                    --backend-store-uri) backend=$2 ;;
                    --workers) workers=$2 ;;
                esac
                shift 2 ;;
            --static-prefix=*) prefix=${1#*=}; shift ;;
            *) die "unknown server option: $1" ;;
        esac
    done
    if [[ -n $prefix ]]; then
        prefix="/${prefix#/}"   # exactly one leading slash
        prefix="${prefix%/}"    # no trailing slash
    fi
}

# start_mlflow_server NAME [--static-prefix /prefix] [--backend-store-uri URI] [--workers N]
# Start a throw-away server with fresh state in $STATE_DIR/servers/NAME and export
# MLFLOW_TRACKING_URI (with the prefix appended, if any). Pair with a trap calling
# stop_mlflow_server NAME so the server never outlives the calling script. A PostgreSQL
# backend URI needs psycopg in the venv (ensure_venv_postgres).
start_mlflow_server() {
    [[ $# -ge 1 ]] || die "usage: start_mlflow_server NAME [--static-prefix /prefix] [--backend-store-uri URI] [--workers N]"
    local name=$1 prefix backend workers dir="$STATE_DIR/servers/$1"
    shift
    _parse_server_options "$@"
    [[ -x "$VENV/bin/python" ]] || die "no venv at $VENV: call ensure_venv first"
    _stop_server_dir "$dir"    # a leftover from an earlier, interrupted run
    rm -rf "$dir"
    mkdir -p "$dir"
    _launch_server "$dir" "$prefix" "" "$backend" "$workers" || die "could not start mlflow server '$name'"
}

# restart_mlflow_server NAME — start the server of start_mlflow_server NAME again after
# stop_mlflow_server NAME, on the same port, backend, workers and data (an outage ends).
restart_mlflow_server() {
    [[ $# -eq 1 ]] || die "usage: restart_mlflow_server NAME"
    local dir="$STATE_DIR/servers/$1" uri prefix
    [[ -f $dir/uri ]] || die "no server '$1' was started"
    uri="$(<"$dir/uri")"
    prefix="/${uri#http://*/}"
    [[ $uri == */* && $prefix != "/$uri" && $prefix != / ]] || prefix=""
    _server_alive "$dir" && return 0
    _launch_server "$dir" "$prefix" "$(<"$dir/port")" "$(<"$dir/backend")" "$(<"$dir/workers")" \
        || die "could not restart mlflow server '$1'"
}

# stop_mlflow_server NAME — stop the server started by start_mlflow_server NAME.
stop_mlflow_server() {
    [[ $# -eq 1 ]] || die "usage: stop_mlflow_server NAME"
    _stop_server_dir "$STATE_DIR/servers/$1"
}

# --- PostgreSQL (a tracking server's backend store) -------------------------------------------

# start_postgres NAME — a throw-away PostgreSQL cluster with fresh state in
# $STATE_DIR/postgres/NAME, on a free loopback port, trust authentication for loopback
# only, owned by Debian's `postgres` system user when run as root. Creates database
# `mlflow` and exports MLFLOWPP_POSTGRES_URI (postgresql://postgres@127.0.0.1:PORT/mlflow).
# Pair with a trap calling stop_postgres NAME.
start_postgres() {
    [[ $# -eq 1 ]] || die "usage: start_postgres NAME"
    local dir="$STATE_DIR/postgres/$1" bin port run=()
    bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
    [[ -x $bin/initdb ]] || die "PostgreSQL is not installed (install_system_deps \"\${MLFLOWPP_POSTGRES_PACKAGES[@]}\")"
    stop_postgres "$1"
    rm -rf "$dir"
    mkdir -p "$dir"
    if [[ $(id -u) -eq 0 ]]; then
        chown postgres: "$dir"
        run=(runuser -u postgres --)
    fi
    port="$(_free_port)"
    "${run[@]}" "$bin/initdb" -D "$dir/data" -U postgres -A trust --no-sync >"$dir/initdb.log" 2>&1 \
        || { tail -n 20 "$dir/initdb.log" >&2; die "initdb failed"; }
    "${run[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/data/postgres.log" -w \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=200" start \
        >/dev/null || { tail -n 20 "$dir/data/postgres.log" >&2; die "PostgreSQL did not start"; }
    printf '%s\n' "$port" >"$dir/port"
    "${run[@]}" "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres mlflow
    export MLFLOWPP_POSTGRES_URI="postgresql://postgres@127.0.0.1:$port/mlflow"
    log "PostgreSQL up: $MLFLOWPP_POSTGRES_URI"
}

# stop_postgres NAME — stop the cluster of start_postgres NAME (idempotent).
stop_postgres() {
    [[ $# -eq 1 ]] || die "usage: stop_postgres NAME"
    local dir="$STATE_DIR/postgres/$1" bin run=()
    [[ -f $dir/data/postmaster.pid ]] || return 0
    bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
    [[ $(id -u) -eq 0 ]] && run=(runuser -u postgres --)
    "${run[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    log "stopped PostgreSQL in $dir"
}

# ensure_venv_postgres — the PostgreSQL driver the pinned MLflow's server loads for a
# postgresql:// backend store (SQLAlchemy's psycopg 3 dialect: psycopg[binary] from PyPI).
ensure_venv_postgres() {
    "$VENV/bin/python" -c "import psycopg" >/dev/null 2>&1 && return 0
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check "psycopg[binary]==3.3.9"
}

# --- TLS + auth reverse proxy (nginx) ---------------------------------------------------------
#
# MLflow "as deployed": behind nginx, with TLS, authentication and a path prefix. Used by
# scripts/test.sh to run the TLS/auth integration tests (tests/integration/test_tls_auth.cpp).

# _random_alnum N — N random characters of [A-Za-z0-9], from openssl's CSPRNG.
_random_alnum() {
    local n=$1 out=""
    while [[ ${#out} -lt $n ]]; do
        out+="$(openssl rand -base64 $((n * 2)) | tr -dc 'A-Za-z0-9')"
    done
    printf '%s' "${out:0:n}"
}

# _make_test_pki DIR — a throw-away CA (ca.pem, ca.key), a server certificate for
# 127.0.0.1/localhost (server.pem, server.key) and a client certificate for mTLS
# (client.pem, client.key), all signed by the CA, EC P-256, valid for 7 days.
_make_test_pki() {
    local dir=$1 days=7
    cat >"$dir/pki.cnf" <<'CNF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = mlflowpp test
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
    local key=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
    (
        umask 077    # private keys readable by their owner only
        openssl req -x509 -config "$dir/pki.cnf" "${key[@]}" -extensions ca -days "$days" -sha256 \
            -subj "/CN=mlflowpp throw-away test CA" -keyout "$dir/ca.key" -out "$dir/ca.pem"
        local who
        for who in server client; do
            openssl req -new -config "$dir/pki.cnf" "${key[@]}" -subj "/CN=mlflowpp-test-$who" \
                -keyout "$dir/$who.key" -out "$dir/$who.csr"
            openssl x509 -req -in "$dir/$who.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
                -set_serial "0x$(openssl rand -hex 16)" -days "$days" -sha256 \
                -extfile "$dir/pki.cnf" -extensions "$who" -out "$dir/$who.pem"
            rm -f "$dir/$who.csr"
        done
    ) >"$dir/pki.log" 2>&1 || { cat "$dir/pki.log" >&2; return 1; }
    chmod 644 "$dir/ca.pem" "$dir/server.pem" "$dir/client.pem"
}

# True if the proxy whose state lives in DIR is running (its process group exists).
_proxy_alive() {
    local dir=$1 pgid
    [[ -f $dir/proxy.pgid ]] || return 1
    pgid="$(<"$dir/proxy.pgid")"
    [[ -n $pgid ]] && kill -0 -- "-$pgid" 2>/dev/null
}

# curl through the proxy; the credentials come on stdin as a curl config (-K -), so that
# they never show up in a process listing. Prints the body; fails on an HTTP error.
_proxy_curl() {
    local config=$1
    shift
    printf '%s\n' "$config" | curl -sf --max-time 5 -K - "$@" 2>/dev/null
}

# start_tls_proxy NAME UPSTREAM_URL
# Start nginx in $STATE_DIR/servers/NAME (fresh state) in front of the MLflow server at
# UPSTREAM_URL (e.g. http://127.0.0.1:5000, or with a prefix), with a throw-away CA:
#   https://127.0.0.1:PORT/basic/...   HTTP Basic auth (user mlflowpp-test, random password)
#   https://127.0.0.1:PORT/bearer/...  `Authorization: Bearer <random token>` required
#   https://127.0.0.1:PORT2/...        mutual TLS: a client certificate signed by the CA
# MLflow sees plain paths (the /basic and /bearer prefixes are stripped). Waits until all
# three answer /health, then exports MLFLOWPP_TEST_TLS_URI (append /basic or /bearer),
# MLFLOWPP_TEST_MTLS_URI, MLFLOWPP_TEST_TLS_CA, MLFLOWPP_TEST_TLS_CLIENT_CERT,
# MLFLOWPP_TEST_TLS_CLIENT_KEY, MLFLOWPP_TEST_BASIC_USER, MLFLOWPP_TEST_BASIC_PASSWORD and
# MLFLOWPP_TEST_BEARER_TOKEN (also written to NAME/env, mode 600). Pair with a trap calling
# stop_tls_proxy NAME.
start_tls_proxy() {
    [[ $# -eq 2 ]] || die "usage: start_tls_proxy NAME UPSTREAM_URL"
    local name=$1 upstream=${2%/} dir="$STATE_DIR/servers/$1" nginx port port2 user password token i
    [[ $upstream == http://* || $upstream == https://* ]] || die "start_tls_proxy: bad upstream '$2'"
    nginx="$(command -v nginx || true)"
    if [[ -z $nginx && -x /usr/sbin/nginx ]]; then nginx=/usr/sbin/nginx; fi
    [[ -n $nginx ]] || die "nginx is not installed (install_system_deps installs it)"
    command -v openssl >/dev/null 2>&1 || die "openssl is not installed"
    [[ ! -f $dir/server.pid ]] || die "start_tls_proxy: $dir belongs to an mlflow server"

    stop_tls_proxy "$name"    # a leftover from an earlier, interrupted run
    rm -rf "$dir"
    mkdir -p "$dir/tmp"
    dir="$(cd "$dir" && pwd -P)"

    _make_test_pki "$dir" || die "start_tls_proxy: could not create the test certificates"
    user=mlflowpp-test
    password="$(_random_alnum 24)"
    token="$(_random_alnum 40)"
    # SHA-512 crypt ($6$): nginx checks it with the system's crypt(3) (libxcrypt).
    (umask 077 && printf '%s:%s\n' "$user" \
        "$(printf '%s' "$password" | openssl passwd -6 -stdin)" >"$dir/htpasswd")
    port="$(_free_port)"
    port2="$(_free_port)"
    while [[ $port2 == "$port" ]]; do port2="$(_free_port)"; done

    local as_user=""
    [[ $(id -u) -eq 0 ]] && as_user="user root;  # workers read the htpasswd file and temp dirs here"
    cat >"$dir/nginx.conf" <<CONF
# Generated by scripts/lib.sh start_tls_proxy: a throw-away TLS + auth proxy for tests.
$as_user
daemon off;
master_process on;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log notice;
events { worker_connections 512; }

http {
    access_log $dir/access.log;
    client_body_temp_path $dir/tmp/client_body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;

    client_max_body_size 0;           # MLflow's own limits apply, not the proxy's
    proxy_connect_timeout 10s;
    proxy_send_timeout 300s;
    proxy_read_timeout 300s;
    proxy_http_version 1.1;
    proxy_set_header Connection "";   # keep-alive to the upstream
    proxy_set_header Host \$proxy_host;  # 127.0.0.1:port passes MLflow's Host check
    proxy_set_header X-Forwarded-For \$remote_addr;
    proxy_set_header X-Forwarded-Proto https;

    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate $dir/server.pem;
    ssl_certificate_key $dir/server.key;

    # TLS with Basic auth (/basic/) or a Bearer token (/bearer/) in front of MLflow.
    server {
        listen 127.0.0.1:$port ssl;
        server_name localhost 127.0.0.1;

        location /basic/ {
            auth_basic "mlflowpp test";
            auth_basic_user_file $dir/htpasswd;
            proxy_pass $upstream/;
        }
        location /bearer/ {
            if (\$http_authorization != "Bearer $token") {
                add_header WWW-Authenticate 'Bearer realm="mlflowpp test"' always;
                return 401;
            }
            proxy_pass $upstream/;
        }
        location / {
            return 404;
        }
    }

    # Mutual TLS: a client certificate signed by the test CA is required.
    server {
        listen 127.0.0.1:$port2 ssl;
        server_name localhost 127.0.0.1;
        ssl_client_certificate $dir/ca.pem;
        ssl_verify_client on;
        ssl_verify_depth 2;

        location / {
            proxy_pass $upstream/;
        }
    }
}
CONF

    "$nginx" -t -q -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" 2>"$dir/nginx-t.log" \
        || { cat "$dir/nginx-t.log" >&2; die "start_tls_proxy: nginx refused $dir/nginx.conf"; }

    log "starting nginx (TLS + auth) in $dir on 127.0.0.1:$port and :$port2 (mTLS) -> $upstream"
    # As for the MLflow server: setsid makes the inner bash a process group leader that
    # records its pid (the group id) and execs nginx (master and worker share the group).
    # shellcheck disable=SC2016  # expanded by the inner bash, on purpose
    setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$dir/proxy.pgid" \
        "$nginx" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" \
        </dev/null >"$dir/nginx.log" 2>&1 &

    local basic_cfg bearer_cfg ok=0
    basic_cfg="user = \"$user:$password\""
    bearer_cfg="header = \"Authorization: Bearer $token\""
    for ((i = 0; i < 60; i++)); do
        if [[ "$(_proxy_curl "$basic_cfg" --cacert "$dir/ca.pem" \
            "https://127.0.0.1:$port/basic/health" || true)" == OK ]]; then
            ok=1
            break
        fi
        if [[ -f $dir/proxy.pgid ]] && ! _proxy_alive "$dir"; then
            break
        fi
        sleep 0.25
    done
    if [[ $ok -eq 1 ]] \
        && [[ "$(_proxy_curl "$bearer_cfg" --cacert "$dir/ca.pem" \
                "https://127.0.0.1:$port/bearer/health" || true)" == OK ]] \
        && [[ "$(_proxy_curl "" --cacert "$dir/ca.pem" --cert "$dir/client.pem" \
                --key "$dir/client.key" "https://127.0.0.1:$port2/health" || true)" == OK ]]; then
        export MLFLOWPP_TEST_TLS_URI="https://127.0.0.1:$port"
        export MLFLOWPP_TEST_MTLS_URI="https://127.0.0.1:$port2"
        export MLFLOWPP_TEST_TLS_CA="$dir/ca.pem"
        export MLFLOWPP_TEST_TLS_CLIENT_CERT="$dir/client.pem"
        export MLFLOWPP_TEST_TLS_CLIENT_KEY="$dir/client.key"
        export MLFLOWPP_TEST_BASIC_USER="$user"
        export MLFLOWPP_TEST_BASIC_PASSWORD="$password"
        export MLFLOWPP_TEST_BEARER_TOKEN="$token"
        (umask 077 && env | grep -E '^MLFLOWPP_TEST_(TLS|MTLS|BASIC|BEARER)_' \
            | sed "s/^\([A-Z_]*\)=\(.*\)$/export \1='\2'/" >"$dir/env")
        log "nginx up after ~$((i / 4)) s: $MLFLOWPP_TEST_TLS_URI/{basic,bearer}, mTLS $MLFLOWPP_TEST_MTLS_URI (pid $(<"$dir/proxy.pgid"))"
        return 0
    fi
    log "nginx in $dir did not answer as expected; its error log:"
    tail -n 40 "$dir/error.log" "$dir/nginx.log" >&2 2>/dev/null || true
    stop_tls_proxy "$name"
    die "could not start the TLS proxy '$name'"
}

# stop_tls_proxy NAME — stop the nginx started by start_tls_proxy NAME (idempotent):
# TERM its process group, KILL after 10 s.
stop_tls_proxy() {
    [[ $# -eq 1 ]] || die "usage: stop_tls_proxy NAME"
    local dir="$STATE_DIR/servers/$1"
    if ! _proxy_alive "$dir"; then
        rm -f "$dir/proxy.pgid"
        return 0
    fi
    _kill_group "$(<"$dir/proxy.pgid")" nginx
    rm -f "$dir/proxy.pgid"
    log "stopped TLS proxy in $dir"
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

# build_variant DIR CMAKE_ARGS... — configure and build the test programs in another build
# directory (sanitizer and fuzzer builds), with the same generator choice as build_project.
build_variant() {
    local dir=$1 gen_args=()
    shift
    if [[ -f $dir/CMakeCache.txt ]]; then
        gen_args=(-G "$(sed -n 's/^CMAKE_GENERATOR:INTERNAL=//p' "$dir/CMakeCache.txt")")
    elif command -v ninja >/dev/null 2>&1; then
        gen_args=(-G Ninja)
    fi
    log "configuring $dir ($*)"
    cmake -S "$ROOT" -B "$dir" "${gen_args[@]}" -DMLFLOWPP_BUILD_EXAMPLES=OFF \
        -DMLFLOWPP_BUILD_BENCHMARKS=OFF -DMLFLOWPP_INSTALL=OFF "$@" >/dev/null
    log "building $dir"
    cmake --build "$dir" -j"$(nproc)"
}
