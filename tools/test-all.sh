#!/usr/bin/env bash
# Runs every test of Muster: unit and property tests of the libraries, the testbed's real
# Kubernetes tests and the end-to-end tests across processes, on real Postgres and Redis.
# Ends with one line "N passed, N failed" summed over all suites.
set -uo pipefail
cd "$(dirname "$0")/.."

bash tools/ensure-services.sh || exit 1
bash tools/ensure-install.sh || exit 1
# The console's browser tests drive Debian's chromium (installed once, ~1 min).
bash tools/ensure-chromium.sh || exit 1

# Kueue's manager (tests/interop) is built from its Go module while lint runs: a cold build takes
# ~10 min on 2 cores, a cached one is a hash check. A build cut short by an early exit below goes
# on in the background and leaves its packages in GOCACHE.
mkdir -p .muster
kueue_log=.muster/kueue-build.log
node infra/testbed/dist/cli.js build --module infra/interop/kueue >"$kueue_log" 2>&1 &
kueue_build=$!
# The Helm renderer of the chart tests (infra/helm/render, Helm's Go packages): ~3 min cold.
helm_log=.muster/helm-render-build.log
node infra/testbed/dist/cli.js build --module infra/helm/render --package ./cmd/muster-helm-render \
  >"$helm_log" 2>&1 &
helm_build=$!

echo "== lint"
node tools/check-graph.mjs || exit 1
npx --no-install buf lint proto || exit 1
# Specs are compiled by SWC without types; this is where they are type-checked.
npx --no-install tsc -p tsconfig.spec.json || exit 1
npx --no-install eslint --max-warnings 0 . || exit 1
npx --no-install prettier --check . >/dev/null || { npx --no-install prettier --check . ; exit 1; }

echo "== testbed binary (cached; a rebuild only when its Go sources change)"
node infra/testbed/dist/cli.js build || exit 1
echo "== Kueue manager (cached; built in the background since the start)"
wait "$kueue_build" || { cat "$kueue_log"; exit 1; }
cat "$kueue_log"
echo "== Helm renderer (cached; built in the background since the start)"
wait "$helm_build" || { cat "$helm_log"; exit 1; }
cat "$helm_log"

results=.muster/test-results.json
rm -f "$results"
echo "== tests"
npx --no-install jest -c jest.config.js --json --outputFile="$results" "$@"
status=$?
node tools/summarize-tests.mjs "$results"
summary=$?
[ $status -eq 0 ] && [ $summary -eq 0 ]
