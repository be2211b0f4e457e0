"""Who holds which secret in the delivery pipelines, read from the pipeline files: branch code
(merge/pull requests) holds no registry write token and no environment, images are pushed and
signed only on protected refs, and an image found under a tag is reused only once verified."""

from __future__ import annotations

import json
import re

from tests.ci.ci_pipelines import REPO_ROOT, delivery_jobs, gitlab_jobs

IMAGE_SCRIPT = REPO_ROOT / "ci" / "image.sh"
MR = '$CI_PIPELINE_SOURCE == "merge_request_event"'


def gitlab_runs_on_merge_requests(job: dict) -> bool:
    """Whether a GitLab job can run in a merge-request pipeline (rules or no rules at all)."""
    rules = job.get("rules")
    if rules is None:
        return True
    return any(
        rule.get("when") != "never"
        and ("if" not in rule or MR in rule["if"] or "$CI_PIPELINE_SOURCE" not in rule["if"])
        and "$CI_COMMIT_REF_PROTECTED" not in rule.get("if", "")
        and "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH" not in rule.get("if", "")
        and "$CI_COMMIT_TAG" not in rule.get("if", "")
        and '"schedule"' not in rule.get("if", "")
        for rule in rules
    )


def test_gitlab_merge_request_jobs_hold_no_environment_and_no_registry_login(gitlab_ci) -> None:
    jobs = gitlab_jobs(gitlab_ci)
    on_mr = {name: job for name, job in jobs.items() if gitlab_runs_on_merge_requests(job)}
    assert {"test", "build-image-mr", "render-diff", "e2e"} <= set(on_mr)
    for name, job in on_mr.items():
        text = json.dumps(job)
        assert "environment" not in job, name
        assert "CI_REGISTRY_PASSWORD" not in text and "docker login" not in text, name
        assert "PASSPHRASE" not in text.replace('PULUMI_CONFIG_PASSPHRASE=\\"$(openssl', ""), name
    assert on_mr["build-image-mr"]["variables"]["IMAGE_PUSH"] == "false"


def test_gitlab_pushes_signs_and_deploys_images_only_on_protected_refs(gitlab_ci) -> None:
    jobs = gitlab_jobs(gitlab_ci)
    build = jobs["build-image"]
    assert build["rules"] == [{"if": '$CI_COMMIT_REF_PROTECTED == "true"'}]
    assert build["id_tokens"]["SIGSTORE_ID_TOKEN"]["aud"] == "sigstore"
    assert "cosign" in " ".join(build["before_script"])
    identity = build["variables"]["IMAGE_SIGNER_IDENTITY_REGEXP"]
    assert identity.startswith("^$CI_PROJECT_URL//") and identity.endswith("$$")
    assert "heads/$CI_DEFAULT_BRANCH" in identity and "tags/v" in identity
    for name in ("deploy-dev", "deploy-prod", "preview"):
        assert not gitlab_runs_on_merge_requests(jobs[name]), name
        assert "build-image" in json.dumps(jobs[name]["needs"])


def test_gitlab_release_keys_the_ledgers_of_both_registries(gitlab_ci) -> None:
    script = " ".join(gitlab_jobs(gitlab_ci)["release-model"]["script"])
    assert 'MODEL_FROM_LEDGER_KEY="$DEV_MODEL_LEDGER_KEY"' in script
    assert 'MODEL_TO_LEDGER_KEY="$MODEL_LEDGER_KEY"' in script


def test_github_pull_request_jobs_hold_no_secret_and_no_write_scope(workflows) -> None:
    jobs = delivery_jobs(workflows)
    on_pr = {name: job for name, job in jobs.items() if "pull_request" in job.get("if", "")}
    assert set(on_pr) == {"image-pr", "render-diff", "chart-check", "comment"}
    for name, job in on_pr.items():
        text = json.dumps(job)
        assert "environment" not in job and "secrets." not in text, name
        assert "packages" not in job["permissions"] and "id-token" not in job["permissions"]
        assert "docker login" not in text, name
    assert on_pr["image-pr"]["steps"][-1]["env"] == {"IMAGE_PUSH": "false"}


def test_github_pushes_and_signs_images_only_on_pushes(workflows) -> None:
    jobs = delivery_jobs(workflows)
    image = jobs["image"]
    assert image["if"] == "github.event_name == 'push'"
    assert image["permissions"] == {"contents": "read", "packages": "write", "id-token": "write"}
    assert any(s.get("uses", "").startswith("sigstore/cosign-installer@") for s in image["steps"])
    run = " ".join(s.get("run", "") for s in image["steps"])
    assert re.search(r"IMAGE_SIGNER_IDENTITY_REGEXP=\"\^https://github\.com/", run)
    assert "refs/(heads/main|tags/v" in run


def test_github_ledger_keys_reach_only_the_release_path_jobs(workflows) -> None:
    jobs = delivery_jobs(workflows)
    holders = {name for name, job in jobs.items() if "LEDGER_KEY" in json.dumps(job)}
    assert holders == {"train", "promote-challenger", "release-model"}
    rollout = workflows["rollout.yml"]["jobs"]
    assert [name for name, job in rollout.items() if "LEDGER_KEY" in json.dumps(job)] == list(
        rollout
    ), "the scheduled rollout promotes, so it signs ledger entries"
    release = jobs["release-model"]["env"]
    assert release["MODEL_FROM_LEDGER_KEY"] == "${{ secrets.DEV_MODEL_LEDGER_KEY }}"
    assert release["MODEL_TO_LEDGER_KEY"] == "${{ secrets.MODEL_LEDGER_KEY }}"


def test_image_script_verifies_before_reusing_and_signs_what_it_pushes() -> None:
    script = IMAGE_SCRIPT.read_text()
    reuse = script.index("reusing it")
    verify = script.index("cosign verify --certificate-identity-regexp")
    assert verify < reuse
    assert "--certificate-oidc-issuer" in script
    assert '-a "revision=$tag" "$found"' in script[verify:reuse]
    push = script.index('docker push --quiet "$ref"')
    assert push < script.index('cosign sign --yes -a "revision=$tag" "$digest_ref"')
