#!/usr/bin/env bash
# LibreOffice Calc, headless, for the test that prints the board workbook to PDF. Where it cannot
# be installed that one test skips and says why; nothing else needs it.
set -uo pipefail
if command -v soffice >/dev/null 2>&1; then exit 0; fi
if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends libreoffice-calc >/dev/null; }; then
  echo "ensure-libreoffice: libreoffice-calc kon niet worden geïnstalleerd; de PDF-test wordt overgeslagen" >&2
fi
exit 0
