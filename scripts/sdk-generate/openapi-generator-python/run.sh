#!/usr/bin/env bash
# openapi-generator (the PyPI package openapi-generator-cli, which carries the jar), `python`:
# generate the package bridge_ogpy, byte-compile it, run the flow (FLOW.md).
# Warnings the generator prints, and why they stay:
# - "OpenAPI 3.1 support is still in beta": the spec is OpenAPI 3.1 on purpose.
# - "From (reserved word) cannot be used as model name": a query parameter is named `from`
#   (the analytics bounds, the old product's wire name); no model is named From, nothing is renamed.
# - "Failed to get the schema name: null", once: the generator does not say for which schema;
#   the package it writes and the whole flow are unaffected.
set -uo pipefail
spec=$1 base=$2 admin_key=$3 work=$4
here=$(cd "$(dirname "$0")" && pwd)
venv=${SDK_VENV:-/tmp/sdkvenv}
generated=no compiled=no passed=0 total=24
rm -rf "$work/client" && mkdir -p "$work"
if "$venv/bin/openapi-generator-cli" generate -i "$spec" -g python -o "$work/client" --package-name bridge_ogpy \
    --global-property apiTests=false,modelTests=false,apiDocs=false,modelDocs=false >"$work/generate.log" 2>&1; then
    generated=yes
    grep -E 'WARN|ERROR' "$work/generate.log" | sort | uniq -c
else
    tail -20 "$work/generate.log"
fi
if [ "$generated" = yes ]; then
    "$venv/bin/python" -m compileall -q "$work/client/bridge_ogpy" "$here/flow.py" && compiled=yes
fi
if [ "$compiled" = yes ]; then
    PYTHONPATH="$work/client:$here/.." "$venv/bin/python" "$here/flow.py" "$base" "$admin_key" | tee "$work/flow.log"
    passed=$(sed -n 's/^passed \([0-9]*\) of \([0-9]*\)$/\1/p' "$work/flow.log")
    passed=${passed:-0}
fi
echo "RESULT generated=$generated compiled=$compiled passed=$passed total=$total"
[ "$passed" = "$total" ]
