#!/bin/sh
# Known vulnerabilities of the installed packages (pip-audit against PyPI's advisory data).
# Skipped, with the reason, where that service cannot be reached: a closed network is no finding.
set -u
cd "$(dirname "$0")/.."
# Asked as pip-audit asks, per version: a mirror may serve a project's page but not its versions',
# and pip-audit then counts every package as unknown and still reports no vulnerabilities found.
if ! .venv/bin/python - <<'PY'
import sys
import urllib.request
from importlib.metadata import version

try:
    urllib.request.urlopen(f"https://pypi.org/pypi/pip/{version('pip')}/json", timeout=10).close()
except OSError as exc:
    print(f"pip-audit overgeslagen: PyPI geeft hier geen gegevens per versie, die het nodig heeft ({exc})")
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
