#!/usr/bin/env bash
# Node.js and npm for the Spectral CLI (the NL API Design Rules lint, tools/spectral/).
set -euo pipefail
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then exit 0; fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
