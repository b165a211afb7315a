#!/usr/bin/env bash
# A one-machine Slurm for the pilot tests: Debian's slurm-wlm and munge, this host as both the
# controller and the only node, its own ports and state, spool and log directories. As root.
#
#   bash scripts/test-slurm.sh          # install when missing, (re)start, wait until idle
#   bash scripts/test-slurm.sh stop     # end the daemons this script started
#
# What worked here: munged as user munge with /run/munge its own; slurmctld and slurmd with
# auth/munge, proctrack/linuxproc, task/none, cons_tres with CR_Core_Memory, SlurmUser=root,
# no accounting, and a scheduler that does not wait before it starts batch jobs.
set -euo pipefail

DIR=${Q_SLURM_DIR:-/var/lib/q-test-slurm}
CTLD_PORT=${Q_SLURM_CTLD_PORT:-16817}
SLURMD_PORT=${Q_SLURM_SLURMD_PORT:-16818}
say() { echo "== test-slurm: $*"; }

stop() {
  for d in slurmctld slurmd; do
    if [ -f "$DIR/$d.pid" ]; then kill "$(cat "$DIR/$d.pid")" 2>/dev/null || true; rm -f "$DIR/$d.pid"; fi
  done
}
if [ "${1:-}" = stop ]; then stop; exit 0; fi

[ "$(id -u)" -eq 0 ] || { echo "test-slurm: run as root" >&2; exit 1; }
# shellcheck source=apt-need.sh
. "$(dirname "$0")/apt-need.sh"
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then apt_need slurm-wlm munge; fi

# munge: a key, then the daemon as its own user.
mkdir -p /etc/munge /run/munge /var/lib/munge /var/log/munge
[ -s /etc/munge/munge.key ] || { dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none; }
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge
chmod 0700 /etc/munge /var/lib/munge /var/log/munge
chmod 0755 /run/munge
chmod 0400 /etc/munge/munge.key
if ! munge -n >/dev/null 2>&1; then
  say "starting munged"
  su -s /bin/sh munge -c 'munged' || runuser -u munge -- munged
fi
for _ in $(seq 1 50); do munge -n >/dev/null 2>&1 && break; sleep 0.1; done
munge -n | unmunge >/dev/null

# Slurm: one node, this one, with what it has.
HOST=$(hostname -s)
CPUS=$(nproc)
MEM_MB=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log" /etc/slurm
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=qtest
SlurmctldHost=$HOST
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=100
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
KillWait=5
MinJobAge=30
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
NodeName=$HOST CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
PartitionName=other Nodes=$HOST MaxTime=INFINITE State=UP
CONF

stop
say "starting slurmctld and slurmd ($HOST, $CPUS CPUs, $MEM_MB MB)"
slurmctld -c -i
slurmd -c
for _ in $(seq 1 100); do
  state=$(sinfo -h -n "$HOST" -o %T 2>/dev/null | head -1 || true)
  case "$state" in idle|mixed|allocated) say "node $HOST is $state"; exit 0 ;; esac
  sleep 0.2
done
echo "test-slurm: the node did not come up (state: ${state:-none}); see $DIR/log" >&2
exit 1
