#!/bin/sh
# Known vulnerabilities of the installed packages (pip-audit against PyPI's advisory data).
# Skipped, with the reason, where that service cannot be reached: a closed network is no finding.
set -u
cd "$(dirname "$0")/.."
if ! .venv/bin/python - <<'PY'
import sys
import urllib.request

try:
    urllib.request.urlopen("https://pypi.org/pypi/pip/json", timeout=10).close()
except OSError as exc:
    print(f"pip-audit overgeslagen: de kwetsbaarhedendienst van PyPI is hier niet bereikbaar ({exc})")
    sys.exit(1)
PY
then
    exit 0
fi
# Packages in versions PyPI's advisory data does not know are skipped, not failed: counted here.
out=$(.venv/bin/pip-audit --progress-spinner off --skip-editable 2>&1)
status=$?
printf '%s\n' "$out" | grep -v "could not be audited"
skipped=$(printf '%s\n' "$out" | grep -c "could not be audited")
if [ "$skipped" -gt 0 ]; then
    echo "pip-audit: $skipped geïnstalleerde pakketten konden niet worden gecontroleerd (versies die PyPI niet kent)"
fi
exit $status
