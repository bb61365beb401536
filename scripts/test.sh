#!/usr/bin/env bash
# Runs every test: the Rust workspace and the Python package, against real DuckDB files, a real
# PostgreSQL server, the BigQuery emulator and a real local Spark.
#
# Provisions what the tests need: installs the PostgreSQL server from Debian's packages when it is
# missing, starts a throwaway cluster (TLS on, with a test certificate authority) on a free local
# port; installs the BigQuery emulator (bqemulator, from PyPI) into a virtualenv when it is
# missing and starts it on free local ports; installs Java 17 (Debian's packages) and Spark
# (PyPI's pyspark, which holds Spark itself) into a virtualenv when missing and starts a local
# Spark Connect server on a free port in the background; installs Chromium and its WebDriver
# (Debian's packages) for the explorer's browser tests; points the tests at all three
# (AITAEM_TEST_POSTGRES*, AITAEM_TEST_BIGQUERY*, AITAEM_TEST_SPARK*), and stops them afterwards,
# also when tests fail. Then builds the Python
# package into a virtualenv (with its test requirements from PyPI) and runs its tests against the
# same servers, then the original aitaem's own test suite against it (python/original-tests).
# Extra arguments go to `cargo test`.
#
# Every suite runs even when an earlier one fails; the failures are listed at the end and the
# script exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- PostgreSQL -------------------------------------------------------------------------------
pg_bin() {
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}
if [ -z "$(pg_bin)" ] || [ ! -x "$(pg_bin)/initdb" ]; then
    echo "test.sh: installing the PostgreSQL server (Debian packages)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
PGBIN="$(pg_bin)"
PGROOT="$(mktemp -d)"
chmod 755 "$PGROOT"
PGDATA="$PGROOT/data"
PGPORT="$(free_port)"

BQ_PID=""
SPARK_PID=""
stop_servers() {
    if [ -n "$SPARK_PID" ]; then
        # The server runs in a process group of its own (the launcher and the JVM).
        kill -- "-$SPARK_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$SPARK_PID" 2>/dev/null || break; sleep 0.2; done
        kill -9 -- "-$SPARK_PID" 2>/dev/null || true
    fi
    if [ -f "$PGDATA/postmaster.pid" ]; then
        runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    if [ -n "$BQ_PID" ]; then
        kill "$BQ_PID" 2>/dev/null || true
        wait "$BQ_PID" 2>/dev/null || true
    fi
    rm -rf "$PGROOT"
}
trap stop_servers EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A test certificate authority and a server certificate for `localhost` only, so that
# verify-full succeeds for `localhost` and fails for `127.0.0.1`; a second authority that signed
# nothing, for verification that must fail.
certs="$PGROOT/certs"
mkdir -p "$certs"
(
    cd "$certs"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=aitaem test CA" \
        -keyout ca.key -out ca.pem -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=other CA" \
        -keyout other.key -out other.pem -addext "basicConstraints=critical,CA:TRUE" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key \
        -out server.csr 2>/dev/null
    printf 'basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n' >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
        -extfile server.ext -out server.crt 2>/dev/null
)
install -d -o postgres -g postgres "$PGDATA"
runuser -u postgres -- "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth-local=trust \
    --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
install -o postgres -g postgres -m 600 "$certs/server.crt" "$certs/server.key" "$PGDATA/"
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w \
    -o "-p $PGPORT -k $PGDATA -c listen_addresses=localhost -c fsync=off -c ssl=on -c max_connections=200" \
    start >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -h "$PGDATA" -p "$PGPORT" -U postgres -d postgres \
    -c "CREATE ROLE aitaem LOGIN PASSWORD 'aitaem-test' CREATEDB" \
    -c "CREATE DATABASE aitaem_test OWNER aitaem" >/dev/null

export AITAEM_TEST_POSTGRES="postgres://aitaem:aitaem-test@localhost:$PGPORT/aitaem_test"
export AITAEM_TEST_POSTGRES_CA="$certs/ca.pem"
export AITAEM_TEST_POSTGRES_OTHER_CA="$certs/other.pem"
echo "test.sh: PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on localhost:$PGPORT" >&2

# --- Spark (started first: it is the slowest to come up, and comes up while the rest is set up
# and compiled) --------------------------------------------------------------------------------
if ! java -version 2>&1 | grep -Eq 'version "(1[7-9]|2[0-9])'; then
    echo "test.sh: installing Java 17 (Debian packages)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null
fi
SPARK_VENV="$HOME/.cache/aitaem/spark-venv"
SPARK_VERSION=4.3.0
if [ ! -x "$SPARK_VENV/bin/python" ] ||
    [ "$("$SPARK_VENV/bin/python" -c 'import pyspark; print(pyspark.__version__)' 2>/dev/null)" != "$SPARK_VERSION" ] ||
    ! "$SPARK_VENV/bin/python" -c 'import pyspark.sql.connect.session' 2>/dev/null; then
    echo "test.sh: installing Spark $SPARK_VERSION (pyspark, PyPI) into $SPARK_VENV" >&2
    python3 -m venv "$SPARK_VENV"
    "$SPARK_VENV/bin/pip" install -q "pyspark[connect]==$SPARK_VERSION"
fi
SPARK_HOME="$("$SPARK_VENV/bin/python" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')"
SPARK_TMP="$PGROOT/spark"
mkdir -p "$SPARK_TMP/conf" "$SPARK_TMP/logs" "$SPARK_TMP/pids"
SPARK_PORT="$(free_port)"
SPARK_HOME="$SPARK_HOME" SPARK_CONF_DIR="$SPARK_TMP/conf" SPARK_LOG_DIR="$SPARK_TMP/logs" \
    SPARK_PID_DIR="$SPARK_TMP/pids" setsid "$SPARK_HOME/sbin/start-connect-server.sh" --wait \
    --master 'local[2]' --conf spark.connect.grpc.binding.port="$SPARK_PORT" \
    --conf spark.sql.session.timeZone=UTC --conf spark.driver.memory=1g \
    --conf spark.sql.shuffle.partitions=4 --conf spark.ui.enabled=false \
    --conf spark.scheduler.mode=FAIR \
    --conf spark.sql.warehouse.dir="$SPARK_TMP/warehouse" \
    --conf "spark.driver.extraJavaOptions=-Duser.timezone=UTC -Dderby.system.home=$SPARK_TMP" \
    >"$SPARK_TMP/server.log" 2>&1 &
SPARK_PID=$!
export AITAEM_TEST_SPARK="sc://127.0.0.1:$SPARK_PORT"
export AITAEM_TEST_SPARK_PYTHON="$SPARK_VENV/bin/python"

# --- BigQuery emulator ------------------------------------------------------------------------
BQ_VENV="$HOME/.cache/aitaem/bqemu-venv"
if [ ! -x "$BQ_VENV/bin/python" ] || ! "$BQ_VENV/bin/python" -c 'import bqemulator' 2>/dev/null; then
    echo "test.sh: installing the BigQuery emulator (bqemulator, PyPI) into $BQ_VENV" >&2
    python3 -m venv "$BQ_VENV"
    # numpy: needed by the emulator's UDF registration but not declared by it.
    "$BQ_VENV/bin/pip" install -q bqemulator==1.4.0 numpy
fi
# The emulator loads DuckDB's spatial extension at start, which can only be downloaded; skip it
# (GEOGRAPHY is then unavailable; nothing else changes).
cat >"$PGROOT/bqemu.py" <<'PY'
import sys
import bqemulator.storage.engine as engine
engine.DuckDBEngine._load_spatial = lambda self: None
from bqemulator.cli import main
sys.exit(main())
PY
BQ_PORT="$(free_port)"
BQ_GRPC_PORT="$(free_port)"
BQEMU_ENABLE_FORMAT_EXTENSIONS=false "$BQ_VENV/bin/python" "$PGROOT/bqemu.py" start \
    --rest-port "$BQ_PORT" --grpc-port "$BQ_GRPC_PORT" --project aitaem-test \
    --log-format console >"$PGROOT/bqemu.log" 2>&1 &
BQ_PID=$!
for _ in $(seq 1 60); do
    python3 -c "import urllib.request as r; r.urlopen('http://127.0.0.1:$BQ_PORT/bigquery/v2/projects/aitaem-test/datasets', timeout=2)" 2>/dev/null && break
    kill -0 "$BQ_PID" 2>/dev/null || { cat "$PGROOT/bqemu.log" >&2; exit 1; }
    sleep 0.5
done
export AITAEM_TEST_BIGQUERY="http://127.0.0.1:$BQ_PORT"
export AITAEM_TEST_BIGQUERY_PROJECT="aitaem-test"
echo "test.sh: BigQuery emulator on 127.0.0.1:$BQ_PORT" >&2

# --- Chromium, for the explorer's tests in a real browser -------------------------------------
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    echo "test.sh: installing Chromium and its WebDriver (Debian packages)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi

# --- the Python package's environment -----------------------------------------------------------
PY_VENV="$HOME/.cache/aitaem/py-venv"
if [ ! -x "$PY_VENV/bin/python" ] || ! cmp -s python/requirements-test.txt "$PY_VENV/requirements-test.txt"; then
    echo "test.sh: installing the Python test requirements (PyPI) into $PY_VENV" >&2
    python3 -m venv "$PY_VENV"
    "$PY_VENV/bin/pip" install -q --upgrade pip
    "$PY_VENV/bin/pip" install -q -r python/requirements-test.txt
    cp python/requirements-test.txt "$PY_VENV/requirements-test.txt"
fi

# --- Spark, up ----------------------------------------------------------------------------------
for _ in $(seq 1 300); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $SPARK_PORT), 1)" 2>/dev/null && break
    kill -0 "$SPARK_PID" 2>/dev/null || { cat "$SPARK_TMP/server.log" >&2; exit 1; }
    sleep 1
done
echo "test.sh: Spark $SPARK_VERSION (Spark Connect) on 127.0.0.1:$SPARK_PORT" >&2

# --- the tests --------------------------------------------------------------------------------
# Test binaries hold their checkout's path (fixtures, snapshots, helper scripts). The build
# directory is shared by every clone on this machine, and cargo would reuse binaries another clone
# built from the same sources, which then read that clone's files (or none, once it is gone). When
# another checkout built here last, this checkout's sources are marked newer than what was built,
# so cargo rebuilds the workspace's own crates (not their dependencies: DuckDB stays compiled).
build_dir="$(cargo metadata --format-version 1 --no-deps --locked |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["build_directory"])')"
checkout_mark="$build_dir/checkout"
if [ -f "$checkout_mark" ] && [ "$(cat "$checkout_mark")" != "$PWD" ]; then
    echo "test.sh: $(cat "$checkout_mark") built here last: rebuilding this checkout's crates" >&2
    git ls-files -z crates | xargs -0 touch
fi
mkdir -p "$build_dir"
echo "$PWD" >"$checkout_mark"
failed=()
# Rust: the library, the command line tool and every backend; every test binary runs even when
# another fails.
cargo test --workspace --locked --no-fail-fast "$@" || failed+=("Rust tests (cargo test)")
# Python: the package built from this checkout (the same target directory and profile as the
# tests above, so DuckDB is not compiled again) and installed into the virtualenv, then its tests
# and the examples in its docstrings.
if (
    # shellcheck disable=SC1091
    source "$PY_VENV/bin/activate"
    maturin develop --locked --quiet
); then
    host="$(rustc -vV | sed -n 's/^host: //p')"
    export AITAEM_CLI="${CARGO_TARGET_DIR:-$PWD/target}/$host/debug/aitaem"
    "$PY_VENV/bin/python" -m pytest -q python/tests --doctest-modules python/aitaem ||
        failed+=("Python tests (pytest)")
    # The original aitaem's own test suite (from its sdist on PyPI), as the drop-in contract.
    "$PY_VENV/bin/python" python/original-tests/run.py ||
        failed+=("the original's test suite (python/original-tests)")
else
    failed+=("the Python package's build (maturin develop)")
fi

if [ ${#failed[@]} -gt 0 ]; then
    echo "test.sh: FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "test.sh: every suite passed" >&2
