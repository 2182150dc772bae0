#!/usr/bin/env bash
# make demo: the real astro-ci binary against the local sandbox (fake Astro,
# GitHub and GitLab APIs on 127.0.0.1). No credentials, no network.
# Token values never reach this terminal: they live in files under $work and
# in the fakes, and astro-sandbox shows them as fingerprints.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN:-bin}
work=$(mktemp -d)
trap 'kill "${sandbox_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
# secrets: what the fake forges hold, as fingerprints and the token each authenticates as.
secrets() { astro-sandbox state -summary; }

# The Astro project of the branch: dags/ and a requirements.txt, committed.
# production's image was built from this first commit.
project=$work/project
mkdir -p "$project/dags"
printf 'from airflow import DAG\n\nwith DAG("orders"):\n    pass\n' >"$project/dags/orders.py"
printf 'pandas==2.2.0\n' >"$project/requirements.txt"
g() { git -C "$project" -c user.name=demo -c user.email=demo@example.com -c commit.gpgsign=false "$@"; }
g init -q -b feature/orders-dag && g remote add origin "https://github.com/acme/airflow-dags.git"
g add -A && g commit -q -m "orders DAG"

"$bin/astro-sandbox" serve -env-file "$work/sandbox.env" -deployment-ready-after 5s -dag-deploy-after 3s \
	-base-image-commit "$(g rev-parse HEAD)" -seed-orphan-preview &
sandbox_pid=$!
for _ in $(seq 100); do [ -s "$work/sandbox.env" ] && break; sleep 0.05; done
set -a; . "$work/sandbox.env"; set +a
export PATH="$PWD/$bin:$PATH"
repo=$ASTRO_SANDBOX_GITHUB_REPOSITORY
glproject=$ASTRO_SANDBOX_GITLAB_PROJECT
export GITHUB_REPOSITORY=$repo # prune lists this repository's branches

step "1. Check the token in ASTRO_API_TOKEN, then every token (exit 1: deploy-bot expires within 3 days)"
run astro-ci token check
run astro-ci token check --all || echo "(exit $? as expected)"

step "2. Dry run of a self-rotation: the plan, nothing changes"
run astro-ci token rotate --dry-run --target "github://$repo/secrets/ASTRO_API_TOKEN"

step "3. Rotate ASTRO_API_TOKEN itself (overlap: zero downtime) into a GitHub secret, a GitLab variable and a local file"
run astro-ci token rotate --target "github://$repo/secrets/ASTRO_API_TOKEN" \
	--target "gitlab://$glproject/variables/ASTRO_API_TOKEN?protected=true&hidden=true" --target "file://$work/astro-api-token"
secrets
ASTRO_API_TOKEN=$(cat "$work/astro-api-token"); export ASTRO_API_TOKEN

step "4. Rotate deploy-bot in place (Astro's rotate) into a GitHub environment secret"
run astro-ci token rotate --token-name deploy-bot --strategy rotate --target "github://$repo/environments/production/secrets/ASTRO_API_TOKEN"
secrets

step "5. Scheduled-job style: rotate only when due (it is not any more)"
run astro-ci token rotate --token-name deploy-bot --if-expires-within 14d --target "github://$repo/environments/production/secrets/ASTRO_API_TOKEN"

step "6. Branch feature/orders-dag created: a preview with its own token, production's image (copied, same digest) and the branch's DAGs, waited for"
export ASTRO_PREVIEW_SECRET_WAREHOUSE_PASSWORD=demo-only-not-a-real-secret
export ASTRO_CI_PROJECT_DIR=$project
preview_target="github://$repo/environments/preview-{slug}/secrets/ASTRO_API_TOKEN?create_environment=true"
gitlab_target="gitlab://$glproject/variables/ASTRO_API_TOKEN?environment_scope=review/{slug}"
run astro-ci preview create --base-deployment production --branch feature/orders-dag --wait --timeout 2m --token-target "$preview_target" \
	--token-target "$gitlab_target"
secrets

step "7. A push changes a DAG: run deploys the branch's DAGs to its preview (a DAG-only deploy; no new Deployment)"
printf 'from airflow import DAG\n\nwith DAG("orders", schedule="@hourly"):\n    pass\n' >"$project/dags/orders.py"
g commit -q -am "orders: hourly"
run astro-ci run --kind branch-updated --branch feature/orders-dag --base-deployment production --wait
secrets

step "8. A push changes requirements.txt: the DAGs still go, and astro-ci says the preview needs an image build"
printf 'pandas==2.2.0\napache-airflow-providers-snowflake\n' >"$project/requirements.txt"
g commit -q -am "a provider"
run astro-ci run --kind branch-updated --branch feature/orders-dag --base-deployment production --wait

step "9. A DAG deploy to any Deployment, without Docker: production gets the branch's DAGs"
run astro-ci deploy --deployment production --dags-path "$project/dags" --wait

step "10. Prune: the preview of feature/abandoned, whose delete event was missed, goes; feature/orders-dag's stays"
run astro-ci preview prune --base-deployment production --dry-run
run astro-ci preview prune --base-deployment production
secrets

step "11. Branch deleted: preview, its token, its secret and environment go; deleting again is fine"
run astro-ci preview delete --base-deployment production --branch feature/orders-dag --token-target "$preview_target" \
	--token-target "$gitlab_target"
run astro-ci preview delete --base-deployment production --branch feature/orders-dag --token-target "$preview_target" \
	--token-target "$gitlab_target"
secrets

step "12. Check again: everything is fresh"
run astro-ci token check --all
