"""infra/scripts/seldon-webhook-wait.sh, run for real by bash against a fake `kubectl`.

No Kubernetes API server can run here, so `kubectl` is the one double: a script on a restricted
PATH that answers like the API server does before and after Seldon's webhook listens.
"""

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

from infra.seldon.config import WEBHOOK_WAIT_SCRIPT

REPO_ROOT = Path(__file__).resolve().parents[2]

REFUSED = (
    "Error from server (InternalError): Internal error occurred: failed calling webhook "
    '"v1.vseldondeployment.kb.io": dial tcp 10.96.0.1:443: connect: connection refused'
)


def fake_kubectl(tmp_path: Path, failures: int, error: str = REFUSED) -> Path:
    """A PATH directory whose `kubectl` fails `failures` times with `error`, then accepts;
    every call's arguments and stdin are logged."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "cat", "mktemp", "rm", "sleep", "printf"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    script = bin_dir / "kubectl"
    script.write_text(
        "#!/bin/bash\n"
        f'log="{tmp_path}/calls"\n'
        'n=$(( $(cat "$log.count" 2>/dev/null || echo 0) + 1 )); echo "$n" > "$log.count"\n'
        'echo "$*" >> "$log"\n'
        'for a in "$@"; do case "$prev" in --kubeconfig) cat "$a" > "$log.kubeconfig";; esac;'
        ' prev="$a"; done\n'
        'cat > "$log.stdin.$n"\n'
        f"if [ \"$n\" -le {failures} ]; then echo '{error}' >&2; exit 1; fi\n"
        'echo "seldondeployment.machinelearning.seldon.io/webhook-probe created (server dry run)"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return bin_dir


def wait(bin_dir: Path, timeout: int, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [shutil.which("bash"), str(WEBHOOK_WAIT_SCRIPT), "seldon-system", str(timeout)],
        env={"PATH": str(bin_dir), "INTERVAL_SECONDS": "0", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_retries_until_the_webhook_accepts_a_dry_run_create(tmp_path: Path) -> None:
    result = wait(fake_kubectl(tmp_path, failures=2), timeout=60, KUBE_CONTEXT="kind-mlops")
    assert result.returncode == 0, result.stderr
    assert "answered" in result.stdout
    calls = (tmp_path / "calls").read_text().splitlines()
    assert len(calls) == 3
    assert all(c == "--context kind-mlops create --dry-run=server -o name -f -" for c in calls)
    probe = (tmp_path / "calls.stdin.3").read_text()
    assert "kind: SeldonDeployment" in probe and "namespace: seldon-system" in probe


def test_times_out_with_the_last_error(tmp_path: Path) -> None:
    result = wait(fake_kubectl(tmp_path, failures=1000), timeout=0)
    assert result.returncode == 1
    assert "did not accept a dry-run SeldonDeployment within 0s" in result.stderr
    assert "connection refused" in result.stderr


def test_a_refusal_by_the_webhook_fails_at_once(tmp_path: Path) -> None:
    denied = (
        'Error from server (Invalid): admission webhook "v1.vseldondeployment.kb.io" denied the '
        "request: spec.predictors: Invalid value"
    )
    result = wait(fake_kubectl(tmp_path, failures=1000, error=denied), timeout=600)
    assert result.returncode == 1
    assert "refused the probe" in result.stderr
    assert len((tmp_path / "calls").read_text().splitlines()) == 1


def test_kubeconfig_content_reaches_kubectl_as_a_file_and_is_removed(tmp_path: Path) -> None:
    result = wait(fake_kubectl(tmp_path, failures=0), timeout=5, KUBECONFIG_DATA="apiVersion: v1")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "calls.kubeconfig").read_text() == "apiVersion: v1\n"
    kubeconfig = (tmp_path / "calls").read_text().split()[1]
    assert not os.path.exists(kubeconfig)


def test_usage_error_without_arguments(tmp_path: Path) -> None:
    result = subprocess.run(
        [shutil.which("bash"), str(WEBHOOK_WAIT_SCRIPT)],
        env={"PATH": str(fake_kubectl(tmp_path, failures=0))},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "usage" in result.stderr


GUARDED = re.compile(r'\$\{(\w+)\[@\]\+"\$\{\1\[@\]\}"\}')
ARRAY_EXPANSION = re.compile(r"\$\{\w+\[@\]\}")


def unguarded_array_expansions(script: str) -> list[str]:
    """Array expansions bash before 4.4 (macOS's 3.2) rejects under `set -u` when the array is
    empty ("unbound variable"; bash-4.4 CHANGES:62-63, section 3 item a, "Using ${a[@]} or
    ${a[*]} with an array without any assigned elements when the nounset option is enabled no
    longer throws an unbound variable error"): everything but the `${a[@]+"${a[@]}"}` idiom."""
    return ARRAY_EXPANSION.findall(GUARDED.sub("", script))


def test_the_pre_4_4_rule_is_what_the_check_enforces() -> None:
    assert unguarded_array_expansions('kubectl "${args[@]}" get') == ["${args[@]}"]
    assert unguarded_array_expansions('kubectl ${args[@]+"${args[@]}"} get') == []


def test_no_script_expands_a_possibly_empty_array_unguarded() -> None:
    """Every committed shell script runs on macOS's bash 3.2 under `set -u`."""
    scripts = [*REPO_ROOT.glob("infra/scripts/*.sh"), *REPO_ROOT.glob("ci/*.sh")]
    assert WEBHOOK_WAIT_SCRIPT in scripts
    offenders = {
        str(path.relative_to(REPO_ROOT)): found
        for path in scripts
        if (found := unguarded_array_expansions(path.read_text()))
    }
    assert offenders == {}


def test_runs_without_context_or_kubeconfig(tmp_path: Path) -> None:
    """The empty-array case itself: neither KUBE_CONTEXT nor KUBECONFIG_DATA set."""
    result = wait(fake_kubectl(tmp_path, failures=0), timeout=5)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "calls").read_text().splitlines() == ["create --dry-run=server -o name -f -"]
