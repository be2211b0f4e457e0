"""The Pod Security Standards' checks for a pod template (kubernetes/pod-security-admission
policy/check_*.go, latest version). baseline: host namespaces, privileged, capabilities,
hostPath, hostPort, procMount, seccomp, sysctls; restricted adds volume types, privilege
escalation, non-root, seccomp and dropped capabilities. AppArmor and SELinux options are not
checked."""

from __future__ import annotations

BASELINE_CAPABILITIES = {
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
    "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}  # fmt: skip
"""check_capabilities_baseline.go"""
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes", "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem",
}  # fmt: skip
"""check_sysctls.go"""
RESTRICTED_VOLUMES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
    "projected", "secret",
}  # fmt: skip
"""check_restrictedVolumes.go"""
LEVELS = ("privileged", "baseline", "restricted")


def _containers(spec: dict) -> list[dict]:
    return [
        *(spec.get("initContainers") or []),
        *(spec.get("containers") or []),
        *(spec.get("ephemeralContainers") or []),
    ]


def _baseline(spec: dict) -> list[str]:
    problems = [f"{key}: true" for key in ("hostNetwork", "hostPID", "hostIPC") if spec.get(key)]
    problems += [
        f"volume {v['name']!r} is a hostPath" for v in spec.get("volumes") or [] if "hostPath" in v
    ]
    pod_context = spec.get("securityContext") or {}
    problems += [
        f"sysctl {s['name']}"
        for s in pod_context.get("sysctls") or []
        if s["name"] not in SAFE_SYSCTLS
    ]
    if (pod_context.get("seccompProfile") or {}).get("type") == "Unconfined":
        problems.append("pod seccompProfile Unconfined")
    for container in _containers(spec):
        name, context = container["name"], container.get("securityContext") or {}
        if context.get("privileged"):
            problems.append(f"container {name!r} is privileged")
        added = set((context.get("capabilities") or {}).get("add") or []) - BASELINE_CAPABILITIES
        if added:
            problems.append(f"container {name!r} adds capabilities {sorted(added)}")
        if any(p.get("hostPort") for p in container.get("ports") or []):
            problems.append(f"container {name!r} uses a hostPort")
        if context.get("procMount", "Default") != "Default":
            problems.append(f"container {name!r} procMount {context['procMount']}")
        if (context.get("seccompProfile") or {}).get("type") == "Unconfined":
            problems.append(f"container {name!r} seccompProfile Unconfined")
    return problems


def _restricted(spec: dict) -> list[str]:
    problems = [
        f"volume {v['name']!r} is of a restricted type"
        for v in spec.get("volumes") or []
        if not set(v) - {"name"} <= RESTRICTED_VOLUMES
    ]
    pod_context = spec.get("securityContext") or {}
    for container in _containers(spec):
        name, context = container["name"], container.get("securityContext") or {}
        if context.get("allowPrivilegeEscalation") is not False:
            problems.append(f"container {name!r} allowPrivilegeEscalation != false")
        if not context.get("runAsNonRoot", pod_context.get("runAsNonRoot")):
            problems.append(f"container {name!r} runAsNonRoot != true")
        if context.get("runAsUser", pod_context.get("runAsUser")) == 0:
            problems.append(f"container {name!r} runAsUser 0")
        seccomp = (context.get("seccompProfile") or pod_context.get("seccompProfile") or {}).get(
            "type"
        )
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append(f"container {name!r} seccompProfile not RuntimeDefault/Localhost")
        capabilities = context.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            problems.append(f"container {name!r} does not drop ALL capabilities")
        if set(capabilities.get("add") or []) - {"NET_BIND_SERVICE"}:
            problems.append(f"container {name!r} adds capabilities beyond NET_BIND_SERVICE")
    return problems


def violations(spec: dict, level: str) -> list[str]:
    """What a pod spec does that `level` forbids."""
    if level not in LEVELS:
        raise ValueError(f"unknown Pod Security level {level!r}; expected one of {LEVELS}")
    if level == "privileged":
        return []
    problems = _baseline(spec)
    return problems + _restricted(spec) if level == "restricted" else problems
