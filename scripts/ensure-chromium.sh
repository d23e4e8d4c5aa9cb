#!/usr/bin/env bash
# The browser tests drive Debian's chromium (Playwright's own browser download is blocked here).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" != "0" ]; then
  echo "chromium is missing and we are not root: install it with 'apt-get install -y chromium'" >&2
  exit 1
fi
echo "Installing Debian's chromium for the browser tests..." >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
