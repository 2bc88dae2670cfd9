# clickcast developer entry points. `make demo` and `make test` are the two
# commands the README promises work on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV := $(shell command -v uv 2>/dev/null || echo "$(HOME)/.local/bin/uv")
RUN := $(UV) run --frozen --no-sync
PYTEST_ARGS ?=

.PHONY: help setup control-plane minio spark-jars chromium gateway-api helm shellcheck container-tools chart-crds kind-demo cluster-demo images push test-services cluster-up cluster-down test test-fast lint format crd docs demo bench clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(UV):
	python3 -m pip install --user --quiet 'uv>=0.5,<1'

setup: $(UV) ## Create .venv with every component and dev tool, exactly as locked in uv.lock
	$(UV) sync --frozen --all-extras

control-plane: ## Build the local Kubernetes binaries from Go modules once (cached; a no-op afterwards)
	bash hack/build-control-plane.sh >/dev/null

minio: ## Build the S3-compatible test server (MinIO) from its Go module once (cached; a no-op afterwards)
	bash hack/build-minio.sh >/dev/null

spark-jars: ## Fetch the pinned S3A jars (hadoop-aws + AWS SDK) for Spark once (cached; a no-op afterwards)
	bash hack/fetch-spark-jars.sh >/dev/null

chromium: ## Install headless Chromium from the Debian packages once (the report tests render pages in it)
	command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

gateway-api: ## Fetch the Gateway API CRDs from the sigs.k8s.io/gateway-api Go module once (cached)
	bash hack/fetch-gateway-api-crds.sh >/dev/null

helm: ## Build helm from its Go module once (cached; a no-op afterwards): the chart tests lint and render with it
	bash hack/build-helm.sh >/dev/null

shellcheck: ## Install shellcheck from the Debian packages once (the chart tests check the scripts with it)
	command -v shellcheck >/dev/null || { \
	  if [ "$$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq shellcheck >/dev/null; }

container-tools: ## Install podman, buildah, runc and mmdebstrap from the Debian packages once (images, the containers runtime)
	command -v podman >/dev/null && command -v buildah >/dev/null && command -v runc >/dev/null && command -v mmdebstrap >/dev/null || { \
	  if [ "$$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq podman buildah runc mmdebstrap >/dev/null; }

test-services: control-plane minio spark-jars chromium gateway-api helm shellcheck container-tools ## Everything the tests start: control plane, MinIO, S3A jars, Chromium, Gateway API CRDs, helm, shellcheck

cluster-up: setup control-plane ## Start the local dev cluster (kwok); prints its kubeconfig path
	$(RUN) clickcast dev cluster up

cluster-down: ## Stop and delete the local dev cluster
	$(RUN) clickcast dev cluster down

test: $(UV) ## Set up, build the tools once, lint and run the whole suite in parallel (benchmarks excluded); prints each phase's time
	bash hack/test.sh $(PYTEST_ARGS)

test-fast: setup ## The unit tests (pure, no services; under 2 minutes) for the inner loop
	$(RUN) pytest -m unit -n 2 $(PYTEST_ARGS)

lint: ## ruff, ruff format, mypy (strict) and the import layers
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy
	$(RUN) lint-imports

format: ## Fix what ruff can fix
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

crd: ## Regenerate manifests/crds/ from the API models (and the chart's and kustomize base's copies, and docs/)
	$(RUN) clickcast crd -o manifests/crds/clickcast.io_clickmodels.yaml
	$(MAKE) --no-print-directory chart-crds docs

docs: ## Regenerate docs/configuration.md, the configuration reference, from the API models
	$(RUN) clickcast reference -o docs/configuration.md

chart-crds: ## Copy CRDs, RBAC and alert rules from manifests/ into charts/clickcast and manifests/kustomize/base (one source)
	bash hack/sync-manifests.sh "$$(bash hack/build-helm.sh | tail -n1)"

images: container-tools ## Build the three images with podman as $(REGISTRY)/<name>:$(TAG) (no Docker daemon, no registry pulls; BASE=, IMAGES=)
	bash hack/build-images.sh

push: ## Push the built images as $(REGISTRY)/<name>:$(TAG) (make push REGISTRY=registry.example.com/team)
	bash hack/push-images.sh

kind-demo: ## With Docker + kind: build the three images ($(REGISTRY), $(TAG)), load them into kind, helm install, run the minimal sample
	bash hack/kind-demo.sh

cluster-demo: setup control-plane helm ## The product on the local control plane: chart, operator pod, training Job, serving pods, a prediction (no Docker; RUNTIME=containers: from the built images, on MinIO)
	bash hack/cluster-demo.sh

demo: setup ## Set up and run the main job: the whole lifecycle on this machine (clickcast demo), serving on until Ctrl-C
	$(RUN) clickcast demo --dir .demo $(DEMO_ARGS)

bench: setup ## Run the benchmarks (they print figures)
	$(RUN) pytest -m bench -s bench $(PYTEST_ARGS)

clean: ## Remove the virtualenv and caches (not the control-plane binaries)
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache
