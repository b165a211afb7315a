# Sourced by the test scripts: `apt_need PKG...` installs the Debian packages named (none: does
# nothing), as root; otherwise it says what to install and fails. Without their recommended
# packages unless APT_RECOMMENDS=1 (Chromium's are what it was seen working with).
apt_need() {
  [ $# -gt 0 ] || return 0
  local me
  me=$(basename "$0" .sh)
  if [ "$(id -u)" -ne 0 ]; then
    echo "$me: missing $*; install them as root (apt-get install $*)" >&2
    return 1
  fi
  echo "== $me: installing $*"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  if [ "${APT_RECOMMENDS:-}" = 1 ]; then apt-get install -y -qq "$@" >/dev/null
  else apt-get install -y -qq --no-install-recommends "$@" >/dev/null; fi
}
