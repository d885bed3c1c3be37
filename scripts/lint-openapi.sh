#!/usr/bin/env bash
# Lints the OpenAPI document of each service with the NL API Design Rules' Spectral ruleset.
set -euo pipefail
cd "$(dirname "$0")/.."
tools=tools/spectral
ruleset=$tools/nl-api-design-rules.spectral.yaml
published=../shared/standards/nl-api-design-rules.spectral.yaml
if [ -f "$published" ] && ! cmp -s "$published" "$ruleset"; then
  echo "$ruleset wijkt af van $published: kopieer hem opnieuw (zie $tools/README.md)" >&2
  exit 1
fi
scripts/ensure-node.sh
if [ ! -f "$tools/node_modules/.installed" ] || [ "$tools/package-lock.json" -nt "$tools/node_modules/.installed" ]; then
  npm ci --prefix "$tools" --no-audit --no-fund --loglevel=error
  touch "$tools/node_modules/.installed"
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# Only built, never started: the apps need a data directory, not their databases.
STROOM_DATA_DIR="$out/var" .venv/bin/stroom contract openapi --out "$out" >/dev/null
for service in intake caseload reporting; do
  echo "API Design Rules-controle: $service"
  "$tools/node_modules/.bin/spectral" lint --quiet --fail-severity=error -r "$ruleset" "$out/$service.json"
done
