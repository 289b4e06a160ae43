#!/usr/bin/env bash
# A real-browser check of the admin dashboard: headless Chromium through Selenium.
# Usage: run.sh <path-to-safeapi-bridge-binary> <screenshot-dir>
# Needs Debian's chromium and chromium-driver (installed here when missing and run as root)
# and Selenium from PyPI (installed, pinned, when missing).
set -euo pipefail

if [ "$#" -ne 2 ]; then
  echo "usage: $0 <path-to-safeapi-bridge-binary> <screenshot-dir>" >&2
  exit 2
fi

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-python3}"
selenium_version="4.51.0"

if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ] || [ ! -x "${CHROMEDRIVER:-/usr/bin/chromedriver}" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "dashboard-check: installing chromium and chromium-driver" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  else
    echo "dashboard-check: needs /usr/bin/chromium and /usr/bin/chromedriver (apt-get install chromium chromium-driver)" >&2
    exit 1
  fi
fi

if ! "$python" -c 'import selenium' 2>/dev/null; then
  "$python" -m pip install --quiet --disable-pip-version-check "selenium==${selenium_version}" 2>/dev/null \
    || "$python" -m pip install --quiet --disable-pip-version-check --break-system-packages "selenium==${selenium_version}"
fi

exec "$python" "$here/run.py" "$1" "$2"
