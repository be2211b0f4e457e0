"""What the forge clients send, checked field by field against the forges' documented APIs.
The HTTP session is a recording double (`RecordingSession`): no forge is reachable here.

GitLab: "Create MR" `POST /projects/:id/merge_requests` (source_branch, target_branch, title
required; description, labels as a comma-separated string, remove_source_branch) and "Merge a
merge request" `PUT /projects/:id/merge_requests/:merge_request_iid/merge`
(merge_when_pipeline_succeeds, should_remove_source_branch), docs.gitlab.com/api/merge_requests/.
GitHub: "Create a pull request" `POST /repos/{owner}/{repo}/pulls` (title, head, base, body),
"Add labels to an issue" `POST /repos/{owner}/{repo}/issues/{issue_number}/labels` ("labels"
array), docs.github.com/en/rest; auto-merge is the GraphQL mutation `enablePullRequestAutoMerge`
(input pullRequestId, mergeMethod), docs.github.com/en/graphql/reference/mutations.
"""

import pytest

from release.forges import (
    ForgeError,
    GitHubForge,
    GitLabForge,
    LocalBareRepoForge,
    Opening,
    forge_from_environment,
)

GITLAB_CREATE_FIELDS = {"source_branch", "target_branch", "title", "description", "labels",
                        "remove_source_branch"}  # fmt: skip
GITLAB_MERGE_FIELDS = {"merge_when_pipeline_succeeds", "should_remove_source_branch"}
GITHUB_PULL_FIELDS = {"title", "head", "base", "body"}


class Answer:
    def __init__(self, status: int, body: dict):
        self.status_code, self._body, self.text = status, body, str(body)

    def json(self) -> dict:
        return self._body


class RecordingSession:
    """Stands in for `requests.Session`: records each call, answers from `answers` in order."""

    def __init__(self, *answers: Answer):
        self.headers: dict[str, str] = {}
        self.calls: list[tuple[str, str, dict]] = []
        self._answers = list(answers)

    def request(self, method: str, url: str, json: dict, timeout) -> Answer:
        self.calls.append((method, url, json))
        return self._answers.pop(0)


def opening(auto_merge: bool) -> Opening:
    return Opening(branch="model-change/dev/promotion-1", target="main", title="iris: 1 -> 2",
                   description="evidence", labels=("model-change", "stack:dev"),
                   auto_merge=auto_merge)  # fmt: skip


def test_gitlab_opens_a_merge_request_and_merges_when_the_pipeline_succeeds() -> None:
    session = RecordingSession(Answer(201, {"iid": 7, "web_url": "https://gl/mr/7"}),
                               Answer(200, {"state": "opened"}))  # fmt: skip
    forge = GitLabForge("https://gitlab.example.com/api/v4", "group/mlops", "glpat-x", session)
    opened = forge.open(opening(auto_merge=True))
    (m1, url1, create), (m2, url2, merge) = session.calls
    assert (m1, url1) == (
        "POST",
        "https://gitlab.example.com/api/v4/projects/group%2Fmlops/merge_requests",
    )
    assert set(create) == GITLAB_CREATE_FIELDS
    assert create["source_branch"] == "model-change/dev/promotion-1"
    assert create["target_branch"] == "main" and create["labels"] == "model-change,stack:dev"
    assert (m2, url2) == (
        "PUT",
        "https://gitlab.example.com/api/v4/projects/group%2Fmlops/merge_requests/7/merge",
    )
    assert set(merge) == GITLAB_MERGE_FIELDS and merge["merge_when_pipeline_succeeds"] is True
    assert session.headers["PRIVATE-TOKEN"] == "glpat-x"
    assert (opened.number, opened.url, opened.auto_merge) == (7, "https://gl/mr/7", True)


def test_gitlab_prod_request_waits_for_approval() -> None:
    session = RecordingSession(Answer(201, {"iid": 8, "web_url": "https://gl/mr/8"}))
    GitLabForge("https://gl/api/v4", "42", "t", session).open(opening(auto_merge=False))
    assert [c[0] for c in session.calls] == ["POST"]


def test_github_opens_a_pull_request_labels_it_and_enables_auto_merge() -> None:
    session = RecordingSession(
        Answer(201, {"number": 12, "node_id": "PR_kw", "html_url": "https://gh/pull/12"}),
        Answer(200, [{"name": "model-change"}]),  # type: ignore[arg-type]
        Answer(200, {"data": {"enablePullRequestAutoMerge": {"pullRequest": {"number": 12}}}}),
    )
    forge = GitHubForge("https://api.github.com", "example-org/mlops-platform", "ghs_x", session)
    opened = forge.open(opening(auto_merge=True))
    (m1, url1, pull), (m2, url2, labels), (m3, url3, graphql) = session.calls
    assert (m1, url1) == ("POST", "https://api.github.com/repos/example-org/mlops-platform/pulls")
    assert set(pull) == GITHUB_PULL_FIELDS
    assert (pull["head"], pull["base"], pull["body"]) == (
        "model-change/dev/promotion-1",
        "main",
        "evidence",
    )
    assert (m2, url2) == (
        "POST",
        "https://api.github.com/repos/example-org/mlops-platform/issues/12/labels",
    )
    assert labels == {"labels": ["model-change", "stack:dev"]}
    assert (m3, url3) == ("POST", "https://api.github.com/graphql")
    assert "enablePullRequestAutoMerge(input: {pullRequestId: $id" in graphql["query"]
    assert graphql["variables"] == {"id": "PR_kw"}
    assert session.headers["Authorization"] == "Bearer ghs_x"
    assert session.headers["X-GitHub-Api-Version"] == "2022-11-28"
    assert (opened.number, opened.url) == (12, "https://gh/pull/12")


def test_a_refusal_names_the_call_and_status() -> None:
    session = RecordingSession(Answer(403, {"message": "forbidden"}))
    with pytest.raises(
        ForgeError, match=r"POST https://gl/api/v4/projects/1/merge_requests answered 403"
    ):
        GitLabForge("https://gl/api/v4", "1", "t", session).open(opening(auto_merge=False))


def test_the_forge_is_chosen_by_the_environment(tmp_path) -> None:
    gitlab = {"GITLAB_CI": "true", "CI_API_V4_URL": "https://gl/api/v4", "CI_PROJECT_ID": "5",
              "MLOPS_FORGE_TOKEN": "t"}  # fmt: skip
    assert isinstance(forge_from_environment(tmp_path, gitlab), GitLabForge)
    github = {"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "o/r", "MLOPS_FORGE_TOKEN": "t"}
    assert isinstance(forge_from_environment(tmp_path, github), GitHubForge)
    with pytest.raises(ForgeError, match="MLOPS_FORGE_TOKEN is not set"):
        forge_from_environment(tmp_path, {"MLOPS_FORGE": "github", "GITHUB_REPOSITORY": "o/r"})
    with pytest.raises(ForgeError, match="set MLOPS_FORGE to gitlab, github or local"):
        forge_from_environment(tmp_path, {})
    assert LocalBareRepoForge.name == "local"
