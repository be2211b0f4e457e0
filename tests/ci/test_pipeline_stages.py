"""The stages, triggers, locks and hardening the delivery issue asks of both pipelines."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator

from tests.ci.ci_pipelines import REPO_ROOT, delivery_jobs, gitlab_jobs
from tests.support.stacks import SHARED_STACKS

SHA_PINNED_ACTION = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
MAKE_CALL = re.compile(r"(?:^|[;&|(]|\$\()\s*make\s+(?:--?[a-z-]+\s+)*([a-z][a-z0-9-]*)", re.M)
SECRET_NAME = re.compile(r"PASSWORD|PASSPHRASE|TOKEN|SECRET|KUBECONFIG")
VERSION_PINNED_IMAGE = re.compile(r"^[\w./-]+:[0-9][\w.-]*(@sha256:[0-9a-f]{64})?$")


def strings(node: object) -> Iterator[str]:
    """Every string anywhere in a parsed YAML document."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


def make_targets(document: dict) -> set[str]:
    """The make targets a pipeline document invokes."""
    return {target for text in strings(document) for target in MAKE_CALL.findall(text)}


# --- make targets ---------------------------------------------------------------------------


def test_both_pipelines_call_the_same_make_targets(gitlab_ci, workflows) -> None:
    gitlab = make_targets(gitlab_ci)
    github = set().union(*(make_targets(doc) for doc in workflows.values()))
    assert gitlab == github
    assert {"lint", "test", "train", "image", "preview", "render-diff", "up", "chart-check"} <= (
        gitlab
    )


def test_every_make_target_the_pipelines_call_exists(gitlab_ci, workflows) -> None:
    targets = make_targets(gitlab_ci).union(*(make_targets(doc) for doc in workflows.values()))
    for target in sorted(targets):
        dry_run = subprocess.run(
            ["make", "--dry-run", "--directory", str(REPO_ROOT), target, "IMAGE_REPOSITORY=x/y"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert dry_run.returncode == 0, f"make {target}: {dry_run.stderr}"


# --- stages and triggers ---------------------------------------------------------------------


def test_github_triggers_are_pull_requests_main_and_release_tags(workflows) -> None:
    triggers = workflows["delivery.yml"][True]
    assert triggers["pull_request"]["branches"] == ["main"]
    assert triggers["push"]["branches"] == ["main"]
    assert triggers["push"]["tags"] == ["v*.*.*"]


def test_github_runs_lint_and_make_test_before_anything_else(workflows) -> None:
    jobs = delivery_jobs(workflows)
    runs = [step.get("run", "") for step in jobs["test"]["steps"]]
    assert "make lint" in runs and "make test" in runs
    for name in ("train", "image"):
        assert jobs[name]["needs"] == "test"
    for name in ("deploy-dev", "deploy-prod"):
        assert "test" in jobs[name]["needs"]


def test_github_trains_and_gates_only_on_main(workflows) -> None:
    jobs = delivery_jobs(workflows)
    assert jobs["train"]["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    train_runs = " ".join(step.get("run", "") for step in jobs["train"]["steps"])
    assert "make train" in train_runs and "-m model evaluate" in train_runs
    assert jobs["promote-challenger"]["if"] == "needs.train.outputs.gate-passed == 'true'"
    assert jobs["promote-challenger"]["environment"] == "model-promotion"


def test_github_previews_every_shared_stack_on_pull_requests_and_comments(workflows) -> None:
    """A pull request gets every shared-cluster stack as the offline render diff (no environment,
    no secret), posted on it; `pulumi preview` runs only on main from the read-only preview
    environments."""
    jobs = delivery_jobs(workflows)
    render = jobs["render-diff"]
    assert render["if"] == "github.event_name == 'pull_request'"
    assert render["strategy"]["matrix"]["stack"] == list(SHARED_STACKS)
    assert "environment" not in render and "${{ secrets." not in json.dumps(render)
    assert 'make render-diff STACK="$STACK"' in " ".join(s.get("run", "") for s in render["steps"])
    preview = jobs["preview"]
    assert preview["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    assert preview["strategy"]["matrix"]["stack"] == list(SHARED_STACKS)
    assert preview["with"]["environment"] == "${{ matrix.stack }}-preview"
    assert preview["uses"] == "./.github/workflows/pulumi-stack.yml"
    assert preview["with"]["operation"] == "preview"
    assert jobs["comment"]["needs"] == ["render-diff"]
    assert jobs["comment"]["strategy"]["matrix"]["stack"] == list(SHARED_STACKS)
    stack_steps = workflows["pulumi-stack.yml"]["jobs"]["pulumi"]["steps"]
    preview_runs = " ".join(s.get("run", "") for s in stack_steps if "preview" in s.get("if", ""))
    assert "make preview" in preview_runs and "make render-diff" in preview_runs
    assert "gh pr comment" in jobs["comment"]["steps"][-1]["run"]


def test_both_pipelines_check_the_chart_contract_on_merge_requests(gitlab_ci, workflows) -> None:
    job = delivery_jobs(workflows)["chart-check"]
    assert job["if"] == "github.event_name == 'pull_request'"
    assert any(step.get("run") == "make chart-check" for step in job["steps"])
    assert gitlab_jobs(gitlab_ci)["chart-check"]["script"] == ["make chart-check"]


def test_github_deploys_dev_on_main_and_prod_on_tag_or_approval(workflows) -> None:
    jobs = delivery_jobs(workflows)
    dev, prod = jobs["deploy-dev"], jobs["deploy-prod"]
    assert dev["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    assert (dev["with"]["stack"], dev["with"]["operation"]) == ("dev", "up")
    assert (prod["with"]["stack"], prod["with"]["operation"]) == ("prod", "up")
    assert prod["with"]["environment"] == "production", "required reviewers live on `production`"
    assert "github.ref_type == 'tag'" in prod["if"]
    assert "needs.deploy-dev.result == 'success'" in prod["if"]


def test_github_promotes_one_image_digest_to_every_stack(workflows) -> None:
    jobs = delivery_jobs(workflows)
    assert jobs["image"]["outputs"]["ref"] == "${{ steps.build.outputs.ref }}"
    for name in ("preview", "deploy-dev", "deploy-prod"):
        assert jobs[name]["with"]["image-ref"] == "${{ needs.image.outputs.ref }}"
    stack_steps = workflows["pulumi-stack.yml"]["jobs"]["pulumi"]["steps"]
    assert any('ci/pin-image.sh "$STACK" "$IMAGE_REF"' in s.get("run", "") for s in stack_steps)


def test_github_deploys_one_at_a_time_per_stack(workflows) -> None:
    jobs = delivery_jobs(workflows)
    for job, group in (("deploy-dev", "pulumi-dev"), ("deploy-prod", "pulumi-prod")):
        assert jobs[job]["concurrency"] == {"group": group, "cancel-in-progress": False}


def test_gitlab_pipeline_runs_for_merge_requests_main_and_release_tags(gitlab_ci) -> None:
    conditions = [rule["if"] for rule in gitlab_ci["workflow"]["rules"]]
    assert '$CI_PIPELINE_SOURCE == "merge_request_event"' in conditions
    assert "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH" in conditions
    assert r"$CI_COMMIT_TAG =~ /^v\d+\.\d+\.\d+$/" in conditions


def test_gitlab_jobs_stages_and_triggers(gitlab_ci) -> None:
    jobs = gitlab_jobs(gitlab_ci)
    assert jobs["test"]["script"] == ["make lint", "make test"]
    assert "make train" in jobs["train"]["script"]
    assert jobs["train"]["allow_failure"] == {"exit_codes": [3]}, "exit 3 = gate not passed"
    assert jobs["promote-challenger"]["rules"][0]["when"] == "manual"
    assert jobs["render-diff"]["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
    assert jobs["render-diff"]["parallel"]["matrix"] == [{"STACK": list(SHARED_STACKS)}]
    assert "environment" not in jobs["render-diff"]
    render_script = " ".join(jobs["render-diff"]["script"])
    for command in ("make render-diff", "ci/gitlab_note.py"):
        assert command in render_script
    assert jobs["preview"]["rules"] == [
        {"if": '$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH && $CI_COMMIT_REF_PROTECTED == "true"'}
    ]
    assert jobs["preview"]["parallel"]["matrix"] == [{"STACK": list(SHARED_STACKS)}]
    assert jobs["preview"]["environment"]["name"] == "$STACK-preview"
    assert "make preview" in " ".join(jobs["preview"]["script"])
    assert jobs["chart-check"]["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
    assert jobs["chart-check"]["script"] == ["make chart-check"]
    assert jobs["deploy-dev"]["rules"] == [{"if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"}]
    prod_rules = jobs["deploy-prod"]["rules"]
    assert prod_rules[0] == {"if": r"$CI_COMMIT_TAG =~ /^v\d+\.\d+\.\d+$/"}
    assert prod_rules[1] == {"if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH", "when": "manual"}


def test_gitlab_deploys_one_at_a_time_per_stack_with_the_built_digest(gitlab_ci) -> None:
    jobs = gitlab_jobs(gitlab_ci)
    assert jobs["deploy-dev"]["resource_group"] == "pulumi-dev"
    assert jobs["deploy-prod"]["resource_group"] == "pulumi-prod"
    assert jobs["build-image"]["artifacts"]["reports"]["dotenv"] == "image.env"
    for name in ("preview", "deploy-dev", "deploy-prod"):
        assert "build-image" in str(jobs[name]["needs"])
        assert 'ci/pin-image.sh "$STACK" "$IMAGE_REF"' in jobs[name]["before_script"]


def test_test_jobs_install_the_debian_packages_the_repo_ci_installs(gitlab_ci, workflows) -> None:
    ci_run = (REPO_ROOT / ".ci" / "run").read_text()
    apt_line = next(line for line in ci_run.splitlines() if "apt-get install" in line)
    packages = {word for word in apt_line.split() if re.fullmatch(r"[a-z0-9][a-z0-9.+-]+", word)}
    packages -= {"apt-get", "install"}
    gitlab_install = " ".join(gitlab_ci["default"]["before_script"])
    github_install = " ".join(s.get("run", "") for s in delivery_jobs(workflows)["test"]["steps"])
    for package in packages:
        assert package in gitlab_install.split(), f"GitLab test job lacks {package}"
        assert package in github_install.split(), f"GitHub test job lacks {package}"


# --- hardening -------------------------------------------------------------------------------


def test_every_action_is_pinned_by_commit_sha(workflows) -> None:
    for name, workflow in workflows.items():
        for job_name, job in workflow["jobs"].items():
            for step in job.get("steps", []):
                if "uses" in step:
                    assert SHA_PINNED_ACTION.match(step["uses"]), f"{name}:{job_name} {step}"


def test_every_gitlab_image_is_pinned_by_version(gitlab_ci) -> None:
    images = [gitlab_ci["default"]["image"]]
    for job in gitlab_jobs(gitlab_ci).values():
        images += [job["image"]] if "image" in job else []
        images += job.get("services", [])
    for image in images:
        assert VERSION_PINNED_IMAGE.match(image), f"{image} is not pinned to a version"
    assert "@sha256:" in gitlab_ci["default"]["image"]


def test_github_token_permissions_are_least_privilege(workflows) -> None:
    delivery = workflows["delivery.yml"]
    assert delivery["permissions"] == {}
    assert workflows["pulumi-stack.yml"]["permissions"] == {"contents": "read"}
    writes = {
        name: {scope for scope, level in job["permissions"].items() if level == "write"}
        for name, job in delivery["jobs"].items()
    }
    assert writes == {
        "test": set(),
        "train": set(),
        "promote-challenger": set(),
        "release-model": set(),
        "image-pr": set(),
        "image": {"packages", "id-token"},
        "render-diff": set(),
        "preview": set(),
        "chart-check": set(),
        "comment": {"pull-requests"},
        "deploy-dev": set(),
        "deploy-prod": set(),
    }


def test_github_secrets_come_only_from_the_secrets_context(workflows) -> None:
    for name, workflow in workflows.items():
        for job_name, job in workflow["jobs"].items():
            env = {**workflow.get("env", {}), **job.get("env", {})}
            for step in job.get("steps", []):
                env.update(step.get("env", {}))
            for key, value in env.items():
                if SECRET_NAME.search(key):
                    assert re.fullmatch(r"\$\{\{ (secrets\.\w+|github\.token) \}\}", value), (
                        f"{name}:{job_name} sets {key} from {value!r}, not from a secret"
                    )


def test_gitlab_defines_no_secret_values(gitlab_ci) -> None:
    scopes = [gitlab_ci.get("variables", {})]
    scopes += [job.get("variables", {}) for job in gitlab_jobs(gitlab_ci).values()]
    for variables in scopes:
        assert not [key for key in variables if SECRET_NAME.search(key)]
