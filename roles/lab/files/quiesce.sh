#!/bin/sh
# Runs inside a lab container before it is removed: stop what holds its disks.
# pg_ctl daemonizes the postmaster, so the postmasters are the postgres
# processes adopted by the container's init.
for pid in $(pgrep -x -P 1 postgres); do kill -INT "$pid"; done
for _ in $(seq 20); do pgrep -x postgres >/dev/null || break; sleep 0.5; done
pkill -x pfsdaemon
for _ in $(seq 20); do pgrep -x pfsdaemon >/dev/null || break; sleep 0.5; done
awk '$1 ~ /^\/dev\/(loop|nvme)/ {print $2}' /proc/mounts | sort -r | while read -r mnt; do
  umount "$mnt" || umount -l "$mnt"
done
exit 0
