#!/bin/sh
# Make headless Chromium available for the report's browser tests (Debian's `chromium`).
# Installs it only when /usr/bin/chromium is missing, we are root and apt-get exists;
# otherwise does nothing and succeeds (the browser tests then skip, saying why).
set -u
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_chromium: /usr/bin/chromium missing and cannot install it (need root + apt-get); browser tests will skip." >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1; then
    apt-get update -qq >/dev/null 2>&1 || true
    apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 \
        || echo "ensure_chromium: installing chromium failed; browser tests will skip." >&2
fi
exit 0
