#!/usr/bin/env bash
# The browser of the end-to-end tests: Debian's chromium (Playwright never downloads one here).
# Installs it with apt-get only when /usr/bin/chromium is missing (CI runs as root); a CJK font
# too, so that screenshots show the Chinese pages as people see them.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "Debian's chromium is missing: run 'sudo apt-get install -y chromium fonts-noto-cjk'" >&2
  exit 1
fi
echo "installing Debian's chromium for the end-to-end tests"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
