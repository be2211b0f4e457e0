"""`stacks/__main__.py`, the program `pulumi up` runs: run by hand it explains itself instead of
failing on a stack that does not exist; under the engine (Pulumi's mocks stand in for it) a
missing stack file or an invalid config is one clear error, not a traceback."""

import subprocess
import sys
import textwrap

from tests.support.stacks import REPO_ROOT

UNDER_MOCKS = textwrap.dedent(
    """
    import asyncio, runpy, sys
    import pulumi

    class Nothing(pulumi.runtime.Mocks):
        def new_resource(self, args):
            return args.name, args.inputs

        def call(self, args):
            return {}, None

    asyncio.set_event_loop(asyncio.new_event_loop())
    pulumi.runtime.set_all_config({}, [])
    pulumi.runtime.set_mocks(Nothing(), project="mlops-platform", stack=sys.argv[1])
    try:
        runpy.run_path("stacks", run_name="__main__")  # as pulumi-language-python-exec does
    except pulumi.RunError as error:
        print(f"RunError: {error}")
    """
)


def python(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )


def test_help_explains_the_program_and_how_to_run_it() -> None:
    result = python("-m", "stacks", "--help")

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: python -m stacks")
    assert "make up" in result.stdout and "python -m stacks.render" in result.stdout
    assert "Traceback" not in result.stderr


def test_run_by_hand_it_says_how_to_run_it_instead_of_failing_on_a_stack() -> None:
    result = python("-m", "stacks")

    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "Pulumi.stack.yaml" not in result.stderr
    assert "the Pulumi program" in result.stderr and "make up STACK=" in result.stderr


def test_under_the_engine_a_missing_stack_file_is_named() -> None:
    result = python("-c", UNDER_MOCKS, "staging")

    assert "Traceback" not in result.stderr, result.stderr
    assert "RunError: no stack file Pulumi.staging.yaml" in result.stdout
    assert "Pulumi.dev.yaml, Pulumi.local.yaml, Pulumi.prod.yaml" in result.stdout


def test_under_the_engine_an_invalid_config_is_a_run_error_with_the_key() -> None:
    result = python("-c", UNDER_MOCKS, "dev")  # no config values set: nothing is valid

    assert "Traceback" not in result.stderr, result.stderr
    assert "RunError: invalid stack configuration in Pulumi.dev.yaml" in result.stdout
    assert "mlops-platform:deployments: is required" in result.stdout
