"""Stack validation, the stack-file editor and the rollout tool run without Pulumi: what they
import is checked in a fresh interpreter, as a user's command would start."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("pulumi", "pulumi_kubernetes", "mlflow")

IMPORTS = {
    "stack validation": "from infra.stack_config import load_stack_file; "
    "load_stack_file(Path('Pulumi.prod.yaml'))",
    "stack_edit": "import stacks.stack_edit",
    "rollout tool": "import stacks.rollout; stacks.rollout.build_parser()",
    "component registry": "import infra.components",
}


def loaded_after(statement: str) -> set[str]:
    """The top-level modules a fresh interpreter holds after `statement`."""
    program = (
        "import json, sys\nfrom pathlib import Path\n"
        f"{statement}\n"
        "print(json.dumps(sorted({m.partition('.')[0] for m in sys.modules})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=REPO, capture_output=True, text=True, check=True
    )
    return set(json.loads(result.stdout.splitlines()[-1]))


@pytest.mark.parametrize("what", sorted(IMPORTS))
def test_imports_no_pulumi(what: str) -> None:
    loaded = loaded_after(IMPORTS[what])
    assert not loaded & set(HEAVY[:2]), f"{what} imports Pulumi"
    if what == "rollout tool":
        assert "mlflow" not in loaded, "--help needs no registry client"


def test_the_check_sees_pulumi_where_it_is_imported() -> None:
    """The program itself does import Pulumi: the check above can fail."""
    assert "pulumi" in loaded_after("import stacks.program")
