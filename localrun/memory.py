"""Memory of a server's process group, as smem counts it: PSS from /proc/<pid>/smaps_rollup.

PSS (proportional set size) charges each shared page to every process that maps it in equal
parts, so summing it over a group counts copy-on-write pages shared after fork once, not once
per worker as RSS would.
"""

from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class ProcessMemory:
    """One process of the group: its pid, command line and PSS/RSS in MiB."""

    pid: int
    command: str
    pss_mib: float
    rss_mib: float


def group_members(pgid: int) -> list[int]:
    """Every live (non-zombie) pid whose process group is `pgid`."""
    members = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Field 5 is the process group; the command (field 2) may hold spaces, so split after it.
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return sorted(members)


def process_memory(pid: int) -> ProcessMemory | None:
    """PSS and RSS of one process, or None if it exited meanwhile."""
    try:
        rollup = (PROC / str(pid) / "smaps_rollup").read_text()
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return None
    values = {}
    for line in rollup.splitlines()[1:]:
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[-1] == "kB":
            values[key] = int(parts[0])
    command = " ".join(part.decode(errors="replace") for part in raw.split(b"\0") if part)
    return ProcessMemory(pid, command, values["Pss"] / 1024, values["Rss"] / 1024)


def group_memory(pgid: int) -> list[ProcessMemory]:
    """Per-process memory of every member of the process group `pgid`."""
    found = (process_memory(pid) for pid in group_members(pgid))
    return [memory for memory in found if memory is not None]


def total_pss_mib(pgid: int) -> float:
    """The group's PSS in MiB: what the processes really cost together."""
    return sum(memory.pss_mib for memory in group_memory(pgid))


def describe(pgid: int) -> str:
    """A per-process table, largest first, for finding where memory goes."""
    members = sorted(group_memory(pgid), key=lambda memory: -memory.pss_mib)
    lines = [f"{'pid':>8} {'PSS MiB':>8} {'RSS MiB':>8}  command"]
    lines += [f"{m.pid:>8} {m.pss_mib:>8.1f} {m.rss_mib:>8.1f}  {m.command[:90]}" for m in members]
    total = sum(m.pss_mib for m in members)
    lines.append(f"{'total':>8} {total:>8.1f}  ({len(members)} processes)")
    return "\n".join(lines)
