#!/usr/bin/env bash
# Debian's PostgreSQL binaries for the PostgreSQL store's tests and `make bench` (both start a throw-away
# cluster of their own in a temporary folder: mockserver/testing/postgres.py). Installed when missing
# and we may (root, apt); otherwise those tests skip and the bench leaves PostgreSQL out. Never fails.
set -u
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; then
  echo "PostgreSQL: present."
elif [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  LOG=/tmp/pac-mock-test-deps.log
  echo "Installing PostgreSQL (apt-get: postgresql) ..."
  apt-get -o DPkg::Lock::Timeout=600 update -qq >>"$LOG" 2>&1
  if DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
      postgresql >>"$LOG" 2>&1; then
    echo "  installed."
  else
    echo "  PostgreSQL could not be installed (see $LOG); the PostgreSQL store tests will skip."
  fi
else
  echo "PostgreSQL is not installed and cannot be installed here; the PostgreSQL store tests will skip."
fi
exit 0
