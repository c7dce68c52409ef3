#!/usr/bin/env bash
# Programs the test suite uses besides Python packages, installed when missing and we may (root,
# Debian / npm); otherwise the tests that need them skip and say why. Never fails.
#   chromium             the dashboard test
#   php-cli + php-soap   PHP SoapClient against the sandbox (tests/test_other_clients.py)
#   node-soap (npm)      node-soap against the sandbox, into tests/clients/.deps (git-ignored)
#   jaxws + a JDK        JAX-WS wsimport clients against the sandbox (tests/test_jaxws_client.py)
#   mono-devel           Mono's wsdl (.NET) clients against the sandbox (tests/test_mono_client.py)
#   postgresql           the PostgreSQL store's tests (mockserver/testing/postgres.py starts a server of its own)
set -u
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
NODE_DEPS="$ROOT/tests/clients/.deps"
LOG=/tmp/pac-mock-test-deps.log

can_apt() { [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; }

APT_UPDATED=0
apt_install() {  # apt_install <what, for the message> <packages...>
  local what="$1"; shift
  if [ "$APT_UPDATED" = "0" ]; then
    apt-get -o DPkg::Lock::Timeout=600 update -qq >>"$LOG" 2>&1 && APT_UPDATED=1
  fi
  echo "Installing $what (apt-get: $*) ..."
  if DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "$@" >>"$LOG" 2>&1; then
    echo "  installed."
  else
    echo "  $what could not be installed (see $LOG); the tests that need it will skip."
  fi
}

# Chromium (dashboard test)
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  echo "Chromium: present."
elif can_apt; then
  apt_install Chromium chromium fonts-dejavu-core
else
  echo "Chromium is not installed and cannot be installed here; the dashboard test will skip."
fi

# PHP with the SOAP extension (PHP SoapClient test)
if command -v php >/dev/null 2>&1 && php -r 'exit(class_exists("SoapClient") ? 0 : 1);' >/dev/null 2>&1; then
  echo "PHP SoapClient: present."
elif can_apt; then
  apt_install "PHP with SoapClient" php-cli php-soap
else
  echo "PHP with the soap extension is not installed and cannot be installed here; the PHP client test will skip."
fi

# node-soap (Node.js client test), kept inside the checkout
if [ -f "$NODE_DEPS/node_modules/soap/package.json" ]; then
  echo "node-soap: present in tests/clients/.deps."
elif command -v npm >/dev/null 2>&1; then
  echo "Installing node-soap (npm install --prefix tests/clients/.deps soap) ..."
  if npm install --prefix "$NODE_DEPS" --no-save --no-audit --no-fund soap >>"$LOG" 2>&1; then
    echo "  installed."
  else
    echo "  node-soap could not be installed (see $LOG); the node-soap test will skip."
  fi
else
  echo "npm is not installed; the node-soap test will skip."
fi
# JAX-WS: wsimport and the runtime (Debian's jaxws), with a JDK to compile and run the client
if command -v wsimport >/dev/null 2>&1 && command -v javac >/dev/null 2>&1 && [ -f /usr/share/java/jaxws-ri-runtime.jar ]; then
  echo "JAX-WS (wsimport): present."
elif can_apt; then
  if command -v javac >/dev/null 2>&1; then apt_install "JAX-WS" jaxws; else apt_install "JAX-WS and a JDK" jaxws default-jdk-headless; fi
else
  echo "JAX-WS (wsimport) is not installed and cannot be installed here; the JAX-WS test will skip."
fi

# Mono: wsdl (the .NET client generator) and the C# compiler
if command -v wsdl >/dev/null 2>&1 && command -v mcs >/dev/null 2>&1; then
  echo "Mono wsdl: present."
elif can_apt; then
  apt_install "Mono (wsdl, mcs)" mono-devel
else
  echo "Mono is not installed and cannot be installed here; the Mono test will skip."
fi

# PostgreSQL: its binaries only; the tests make and start a throw-away cluster in a temporary folder
"$ROOT/scripts/postgres-deps.sh"
exit 0
