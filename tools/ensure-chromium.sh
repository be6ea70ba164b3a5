#!/usr/bin/env bash
# Installs Debian's chromium package when /usr/bin/chromium is missing: the headless browser the
# console's end-to-end tests drive through playwright-core (which downloads no browser of its own).
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi
echo "installing chromium (Debian package)..."
started=$(date +%s)
if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
echo "chromium installed in $(($(date +%s) - started)) s: $(/usr/bin/chromium --version)"
