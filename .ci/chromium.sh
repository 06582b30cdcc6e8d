#!/usr/bin/env bash
# Installs Debian's chromium for the explorer's browser tests (test/e2e/explorer-*.test.ts drive it with
# playwright-core at /usr/bin/chromium). Idempotent: does nothing when chromium is already installed.
set -euo pipefail
if [ -x /usr/bin/chromium ] && /usr/bin/chromium --version >/dev/null 2>&1; then
  echo "chromium present: $(/usr/bin/chromium --version 2>/dev/null)"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y chromium
/usr/bin/chromium --version
