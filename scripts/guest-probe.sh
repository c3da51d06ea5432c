#!/bin/sh
# The test guest's stall probe (scripts/build-guest.mjs puts it in the initramfs as
# /bin/boxkeep-probe; /init starts it with boxkeep.probe=on on the kernel command line): a
# stamp of the guest's clock, "PROBE <seconds>.<microseconds>", on the console whenever the
# millisecond changes. The largest gap between two stamps around an operation is how long the
# guest was held up (bench/live-stall.mjs). Only shell builtins in the loop (busybox ash's
# EPOCHREALTIME, echo, test): a fork per stamp costs milliseconds under TCG. Under QMP `stop`
# the guest's clock stands still too, so a pause shows in the host's arrival times of the
# stamps, not in their gaps.
last=
while :; do
  t=$EPOCHREALTIME
  ms=${t%???}
  [ "$ms" = "$last" ] && continue
  last=$ms
  echo "PROBE $t"
done
