#!/usr/bin/env bash
# Makes a Docker engine reachable and builds the local images q's Docker tests run in.
# There is no registry here, so the image is imported from a root file system made of
# Debian's static busybox (every applet) and static bash.
#
#   bash scripts/test-images.sh        # as root: installs docker.io etc. when missing
#
# Idempotent: an engine already answering is used as it is; the image is rebuilt (1-2 s).
set -euo pipefail

IMAGE=${Q_TEST_IMAGE:-q-test-busybox}
DOCKERD_LOG=${Q_DOCKERD_LOG:-/var/log/q-dockerd.log}

say() { echo "== test-images: $*"; }

need_install=()
command -v dockerd >/dev/null || need_install+=(docker.io)
command -v docker >/dev/null || need_install+=(docker.io)
[ -x /bin/busybox ] || need_install+=(busybox-static)
[ -x /bin/bash-static ] || need_install+=(bash-static)
# shellcheck source=apt-need.sh
. "$(dirname "$0")/apt-need.sh"
apt_need $(printf '%s\n' "${need_install[@]}" | sort -u)

if ! docker info >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "test-images: no Docker engine answers and only root may start one" >&2
    exit 1
  fi
  say "starting dockerd (log: $DOCKERD_LOG)"
  nohup dockerd >"$DOCKERD_LOG" 2>&1 &
  for _ in $(seq 1 120); do
    docker info >/dev/null 2>&1 && break
    sleep 0.5
  done
  if ! docker info >/dev/null 2>&1; then
    echo "test-images: dockerd did not answer within 60 s; its log:" >&2
    tail -n 30 "$DOCKERD_LOG" >&2 || true
    exit 1
  fi
fi
say "engine $(docker version --format "{{.Server.Version}}")"

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,etc,tmp,root,proc,sys,dev}
chmod 1777 "$root/tmp"
cp /bin/busybox "$root/bin/busybox"
for applet in $(/bin/busybox --list); do
  [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done
cp /bin/bash-static "$root/bin/bash"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/tmp:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
old=$(docker images -q "$IMAGE:latest")
tar -C "$root" -c . | docker import -c 'ENV PATH=/bin' - "$IMAGE:latest" >/dev/null
new=$(docker images -q "$IMAGE:latest")
if [ -n "$old" ] && [ "$old" != "$new" ]; then docker rmi "$old" >/dev/null 2>&1 || true; fi
say "built $IMAGE:latest: $(docker run --rm --network none "$IMAGE" bash -c 'echo "bash $BASH_VERSION, $(busybox | head -n 1)"' 2>&1 | head -n 1)"
