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
# Spectral installed once per lockfile for the user, not in each clone: a fresh clone (CI, a new
# worktree) finds it installed. Installed beside its place and moved there whole, so that a lint
# running at the same time never sees half an installation.
lock=$(sha256sum "$tools/package-lock.json" | cut -c1-16)
installed=${XDG_CACHE_HOME:-$HOME/.cache}/stroom/spectral-$lock
if [ ! -x "$installed/node_modules/.bin/spectral" ]; then
  mkdir -p "$(dirname "$installed")"
  staging=$(mktemp -d "$installed.XXXXXX")
  cp "$tools/package.json" "$tools/package-lock.json" "$staging/"
  npm ci --prefix "$staging" --no-audit --no-fund --loglevel=error
  mv -T "$staging" "$installed" 2>/dev/null || rm -rf "$staging"
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# Only built, never started: the apps need a data directory, not their databases.
STROOM_DATA_DIR="$out/var" .venv/bin/stroom contract openapi --out "$out" >/dev/null
echo "API Design Rules-controle: intake, caseload, reporting"
# One Spectral process for the three documents: each finding names its document.
"$installed/node_modules/.bin/spectral" lint --quiet --fail-severity=error -r "$ruleset" \
  "$out/intake.json" "$out/caseload.json" "$out/reporting.json"
