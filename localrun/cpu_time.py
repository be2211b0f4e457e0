"""CPU time of a whole process group, from /proc (user + system, every live member)."""

import os

from localrun.memory import group_members

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def group_cpu_seconds(pgid: int) -> float:
    """User plus system seconds used so far by the live members of the process group `pgid`,
    each including its reaped children (`cutime`, `cstime`: a replaced worker still counts)."""
    total = 0
    for pid in group_members(pgid):
        try:
            with open(f"/proc/{pid}/stat") as stat:
                # Fields after the command (which may hold spaces): state is field 3.
                fields = stat.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return total / CLOCK_TICKS
