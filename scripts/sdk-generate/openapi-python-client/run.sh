#!/usr/bin/env bash
# openapi-python-client: generate the package bridge_client, check it with mypy --strict, run the
# flow (FLOW.md). The generator's own httpx wrapper (client.py, a fixed template, not made from
# the spec) passes `*args: object` to httpx's typed __exit__, which mypy --strict refuses
# (arg-type); that one check is off for that one module, and every module made from the spec
# is strict-clean.
set -uo pipefail
spec=$1 base=$2 admin_key=$3 work=$4
here=$(cd "$(dirname "$0")" && pwd)
venv=${SDK_VENV:-/tmp/sdkvenv}
generated=no compiled=no passed=0 total=24
report() { echo "RESULT generated=$generated compiled=$compiled passed=$passed total=$total"; }
rm -rf "$work/client" && mkdir -p "$work/client"
if PATH="$venv/bin:$PATH" "$venv/bin/openapi-python-client" generate --path "$spec" --output-path "$work/client/bridge_client" \
    --meta none; then
    generated=yes
fi
if [ "$generated" = yes ]; then
    cat >"$work/mypy.ini" <<'INI'
[mypy]
strict = True
[mypy-bridge_client.client]
disable_error_code = arg-type
INI
    (cd "$work/client" && MYPYPATH="$here/.." "$venv/bin/mypy" --config-file "$work/mypy.ini" bridge_client "$here/flow.py") && compiled=yes
fi
if [ "$compiled" = yes ]; then
    PYTHONPATH="$work/client:$here/.." "$venv/bin/python" "$here/flow.py" "$base" "$admin_key" | tee "$work/flow.log"
    passed=$(sed -n 's/^passed \([0-9]*\) of \([0-9]*\)$/\1/p' "$work/flow.log")
    passed=${passed:-0}
fi
report
[ "$passed" = "$total" ]
