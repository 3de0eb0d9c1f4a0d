#!/usr/bin/env bash
# `make install`'s first step: what a fresh machine needs, each missing one in one sentence.
# Python, Node and npm are needed to install at all (exit 1 without them); Java 17 and
# PostgreSQL only by some tests (`make test`), so their absence is said but does not stop
# the install. Chromium is installed by the Makefile's chromium target when missing.
set -uo pipefail
PYTHON=${PYTHON:-python3}
failed=0
need() { echo "missing: $1" >&2; failed=1; }
warn() { echo "note: $1" >&2; }

if ! command -v "$PYTHON" >/dev/null; then
  need "Python 3.11 or newer is needed ($PYTHON is not on PATH; set PYTHON=... to choose one)."
elif ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  need "Python 3.11 or newer is needed; $PYTHON is $("$PYTHON" -V 2>&1)."
fi
command -v node >/dev/null || need "Node.js is needed to install GOV.UK Frontend and Vega (node is not on PATH)."
command -v npm >/dev/null || need "npm is needed to install GOV.UK Frontend and Vega (npm is not on PATH)."
if ! command -v java >/dev/null; then
  warn "Java 17 or newer is needed for the Spark tests in make test (java is not on PATH)."
else
  major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
  [ "${major:-0}" -ge 17 ] || warn "Java 17 or newer is needed for the Spark tests in make test; java is version ${major:-unknown}."
fi
if ! "$PYTHON" -c 'import socket; socket.create_connection(("127.0.0.1", 5432), 2).close()' 2>/dev/null; then
  warn "PostgreSQL is needed on 127.0.0.1:5432 (user postgres, trust auth) for the database tests in make test; nothing answers there."
fi
exit $failed
