#!/bin/bash
# local_check.sh — runs both example batch scripts through a one-node Slurm on this
# machine (Debian 12, as root; not part of `make test`): installs slurm-wlm and munge if
# missing, starts munged, slurmctld and slurmd with a minimal localhost slurm.conf
# (unless a Slurm is already answering), submits train.sbatch and sweep.sbatch as 1 node
# × 2 tasks, waits, and checks both logs. Leaves the daemons running; stop them with
#   kill $(cat /run/slurmctld.pid) $(cat /run/slurmd.pid)
set -euo pipefail
cd "$(dirname "$0")/../.."
export L4Q_DATA=${L4Q_DATA:-$PWD/../shared/data}
[ -x build/l4q ] && [ -f build/libl4q_mpi.so ] || { echo "build first: make && make mpi"; exit 1; }
for p in slurm-wlm munge; do dpkg -s $p >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $p >/dev/null; done
if ! sinfo >/dev/null 2>&1; then
    host=$(hostname -s); cpus=$(nproc); mem=$(( $(awk '/MemTotal/{print $2}' /proc/meminfo) / 1024 - 1024 ))
    mkdir -p /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge
    chown munge:munge /run/munge
    pgrep -x munged >/dev/null || runuser -u munge -- /usr/sbin/munged
    cat > /etc/slurm/slurm.conf <<CONF
ClusterName=l4q
SlurmctldHost=$host
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SlurmUser=root
SlurmdUser=root
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
    /usr/sbin/slurmctld; /usr/sbin/slurmd
    for i in $(seq 30); do sinfo -h -o %t 2>/dev/null | grep -q idle && break; sleep 1; done
fi
tmp=$(mktemp -d)
SPEC=experiments/slurm/check_sweep.yaml  # the sweep tests/test_mpi.py runs
j1=$(sbatch --parsable --nodes=1 --ntasks-per-node=2 --output=$tmp/train.log experiments/slurm/train.sbatch \
     experiments/configs/l4q_4bit.yaml $tmp/run --set train.steps=8 --set train.accum=4 --set train.micro_batch=4 \
     --set train.seq_len=64 --set eval.every=4 --set eval.val_batches=2 --set "eval.tasks=[]")
j2=$(sbatch --parsable --nodes=1 --ntasks-per-node=2 --output=$tmp/sweep.log experiments/slurm/sweep.sbatch $SPEC $tmp/sweep)
while squeue -h -j $j1,$j2 2>/dev/null | grep -q .; do sleep 2; done
grep -q "data-parallel: 2 ranks" $tmp/train.log && grep -q "run complete" $tmp/train.log && echo "PASS: train.sbatch (2 ranks)" || { echo "FAIL: train.sbatch"; tail $tmp/train.log; }
grep -q "5/5 complete" $tmp/sweep.log && [ -f $tmp/sweep/report.md ] && echo "PASS: sweep.sbatch (2 ranks)" || { echo "FAIL: sweep.sbatch"; tail $tmp/sweep.log; }
echo "logs and outputs in $tmp"
