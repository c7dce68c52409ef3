#!/usr/bin/env bash
# System packages the test suite uses: Chromium for the dashboard test. Installed when missing and we
# may (root, Debian); otherwise that test skips and says why.
set -u
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Chromium for the dashboard test (apt-get) ..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core) >/tmp/pac-mock-apt.log 2>&1 \
    || echo "Chromium could not be installed (see /tmp/pac-mock-apt.log); the dashboard test will skip."
else
  echo "Chromium is not installed and cannot be installed here; the dashboard test will skip."
fi
exit 0
