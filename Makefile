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
.PHONY: help venv test lint render preflight protect-up protect-destroy up preview destroy

help: ## List the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(BIN)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

venv: $(BIN)/.installed ## Create the Python 3.12 virtualenv from requirements.txt

test: venv ## Run every test suite (the CI command)
	$(BIN)/python -m pytest

lint: venv ## Static checks: ruff and hadolint on the serving and training Dockerfiles
	$(BIN)/ruff check .
	$(BIN)/hadolint serving/Dockerfile model/Dockerfile

render: venv ## Offline preview: write every resource of STACK as YAML into OUT
	rm -rf $(OUT)
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

# Registry the render diff resolves model aliases against (merge requests: the dev registry, with
# MLFLOW_TRACKING_USERNAME/_PASSWORD of its read-only user); empty renders aliases as aliases.
RENDER_TRACKING_URI ?=

render-diff: venv ## Diff STACK's SeldonDeployments, dashboards and rules between BASE and the work tree
	@mkdir -p render
	$(BIN)/python ci/render_diff.py --stack $(STACK) --base $(BASE) --out render/diff-$(STACK).md \
		$(if $(RENDER_TRACKING_URI),--tracking-uri $(RENDER_TRACKING_URI))

.PHONY: demo bench
BENCH_SECONDS ?= 10
demo: venv ## Train (or reuse) a model, serve it as the image does, show good/bad requests and metrics
	$(BIN)/python -m localrun.demo

$(VENV)-mlserver/.installed: localrun/mlserver-requirements.txt
	$(PYTHON) -m venv $(VENV)-mlserver
	$(VENV)-mlserver/bin/pip install --quiet -r localrun/mlserver-requirements.txt
	touch $@

bench: venv $(VENV)-mlserver/.installed ## wrk: the model server vs MLServer 1.7.1, BENCH_SECONDS each; PASS/FAIL per target (needs wrk)
	$(BIN)/python -m localrun.benchmark --duration $(BENCH_SECONDS) --mlserver-venv $(VENV)-mlserver

.PHONY: abtest-demo rollout
abtest-demo: venv ## Two real model servers (weaker challenger), real Prometheus: rollout and A/B decisions per round
	$(BIN)/python -m localrun.abtest_demo

rollout: venv ## One step of every rollout plan in STACK's file, from PROMETHEUS_URL (the scheduled CI job)
	$(BIN)/python -m stacks.rollout --stack-file Pulumi.$(STACK).yaml --prometheus-url "$(PROMETHEUS_URL)" --json

# Continuous training (docs/continuous-training.md): one run now, from the deployment's CronJob.
DEPLOYMENT ?=
NAMESPACE  ?= seldon
KUBECTL    ?= kubectl
.PHONY: retrain
retrain: ## Start one training run of DEPLOYMENT now (its CronJob's template; NAMESPACE=seldon)
	@test -n "$(DEPLOYMENT)" || { echo "usage: make retrain DEPLOYMENT=<name> [NAMESPACE=seldon]" >&2; exit 2; }
	$(KUBECTL) create job --namespace "$(NAMESPACE)" --from="cronjob/$(DEPLOYMENT)-training" "$(DEPLOYMENT)-manual-$$(date +%s)"
