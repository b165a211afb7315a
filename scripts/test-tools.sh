#!/usr/bin/env bash
# Installs what the dashboard's and the metrics' tests drive: Debian's Chromium (through
# playwright-core, never a downloaded browser) and Debian's Prometheus. Neither is left
# running: the tests start their own, on free loopback ports, and end them.
#
#   bash scripts/test-tools.sh        # as root: apt-get installs what is missing
set -euo pipefail

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/bin/prometheus ] || need+=(prometheus)
if [ ${#need[@]} -eq 0 ]; then
  echo "== test-tools: chromium and prometheus are here"
  exit 0
fi
# shellcheck source=apt-need.sh
. "$(dirname "$0")/apt-need.sh"
APT_RECOMMENDS=1 apt_need "${need[@]}"
# The package starts a Prometheus of its own where it can (systemd): the tests need none.
if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then systemctl stop prometheus || true; fi
