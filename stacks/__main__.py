"""The Pulumi program (`main: stacks/` in Pulumi.yaml): validate the stack config, read the
model versions from the stack's pin file (`pins.<stack>.yaml`, never the registry), then
declare the platform.

`pulumi up` and `pulumi preview` run it (`make up STACK=<stack>`, `make preview STACK=<stack>`);
to see what a stack declares without a cluster, Docker or the Pulumi CLI, run
`python -m stacks.render --stack <stack> --out DIR` (`make render STACK=<stack>`).
"""

import argparse
import sys

import pulumi
from pulumi.runtime.settings import get_monitor

from stacks.preflight import missing_stack_file


def declare(stack: str) -> None:
    """Declare `stack`; a missing stack file, an invalid config or a predictor without its pin
    is a `pulumi.RunError`, which the engine prints as the message alone."""
    from infra.deployments.pinned_versions import pinned_versions
    from infra.stack_config import StackConfigError
    from stacks.preflight import REPO_ROOT
    from stacks.program import declare_platform
    from stacks.runtime_config import from_pulumi_runtime

    absent = missing_stack_file(stack)
    if absent:
        raise pulumi.RunError(f"{absent}; create it from the nearest one (docs/extending.md)")
    try:
        config = from_pulumi_runtime()
        stack_file = REPO_ROOT / f"Pulumi.{stack}.yaml"
        declare_platform(config, pinned_versions(config.deployments, stack_file))
    except StackConfigError as error:
        raise pulumi.RunError(str(error)) from None


def explain(argv: list[str]) -> int:
    """Run by hand (`python -m stacks`): there is no engine to declare to, so say how to run it."""
    parser = argparse.ArgumentParser(
        prog="python -m stacks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.parse_args(argv)
    print(
        "error: stacks/ is the Pulumi program and needs the Pulumi engine: deploy with "
        "`make up STACK=<stack>` or preview with `make preview STACK=<stack>`; without a cluster, "
        "`make render STACK=<stack>` writes what the stack declares (see --help)",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    # pulumi-language-python-exec connects the engine (pulumi.runtime.configure) before it runs
    # this file with runpy.run_path(PROGRAM, run_name="__main__") (pulumi/pulumi
    # sdk/python/cmd/pulumi-language-python-exec at v3.259.0, lines 121, 144, 188): with no
    # resource monitor, nobody is listening and the file was started by hand.
    if get_monitor() is None:
        sys.exit(explain(sys.argv[1:]))
    declare(pulumi.get_stack())
