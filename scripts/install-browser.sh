#!/bin/sh
# Install Debian's chromium for the console's browser tests (Playwright drives it through
# executable_path, so no Playwright-managed browser download is needed). CI runs this on a fresh
# machine as root; on a developer machine it is a no-op once /usr/bin/chromium exists.
set -eu
if [ -x /usr/bin/chromium ]; then
    echo "chromium already installed: $(/usr/bin/chromium --version 2>/dev/null || echo unknown)"
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
# fonts-noto-cjk: the console is Chinese first; without a CJK font screenshots show boxes.
$SUDO apt-get install -y --no-install-recommends chromium fonts-noto-cjk
/usr/bin/chromium --version
