#!/usr/bin/env bash
# Counts how often a running process wakes up: the voluntary plus
# involuntary context switches of all its threads (/proc/PID/task/*/status)
# over SECONDS, per thread and in total.
#
#     scripts/wakeups.sh PID [SECONDS]     # default 10 s
#
# The last line is machine-readable: `wakeups TOTAL SECONDS PER_SECOND`.
# Threads that start or end during the interval count from or to zero.
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 PID [SECONDS]" >&2
    exit 2
fi
pid=$1
seconds=${2:-10}
if [ ! -d "/proc/$pid/task" ]; then
    echo "wakeups: no process $pid" >&2
    exit 1
fi

# One line per thread: TID NAME SWITCHES
snapshot() {
    local status tid name switches
    for status in /proc/"$pid"/task/*/status; do
        tid=${status%/status}
        tid=${tid##*/}
        # A thread may end between the glob and the read.
        { read -r name switches < <(awk '
            /^Name:/ { name = $2 }
            /^voluntary_ctxt_switches:/ { v = $2 }
            /^nonvoluntary_ctxt_switches:/ { n = $2 }
            END { print name, v + n }' "$status" 2>/dev/null); } || continue
        [ -n "${switches:-}" ] && echo "$tid $name $switches"
    done
}

before=$(snapshot)
sleep "$seconds"
after=$(snapshot)

awk -v seconds="$seconds" '
    NR == FNR { start[$1] = $3; next }
    {
        delta = $3 - start[$1]
        total += delta
        printf "  %-8s %-16s %d\n", $1, $2, delta
    }
    END {
        printf "wakeups %d %s %.2f\n", total, seconds, total / seconds
    }' <(echo "$before") <(echo "$after")
