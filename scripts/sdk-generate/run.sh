#!/usr/bin/env bash
# Clients generated from openapi.yaml by outside generators, built, and run through one flow
# against a live bridge on 127.0.0.1 (docs/sdks.md). Each generator has a folder here with a
# run.sh that takes: the spec, the bridge's URL, the admin key, a work folder; and prints
# "RESULT generated=yes|no compiled=yes|no passed=N total=M" as its last line.
#
# Needs a built server (.build/debug/safeapi-bridge), python3, java (Debian's
# default-jre-headless), node and tsc (Debian's nodejs and node-typescript), swift.
# Python packages go into a venv under .build-sdk/ (kept between runs). Stops what it started.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
pid=""
cleanup() { [ -z "$pid" ] || kill "$pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

export SDK_VENV="${SDK_VENV:-$root/.build-sdk/venv}"
if [ ! -x "$SDK_VENV/bin/python" ]; then python3 -m venv "$SDK_VENV"; fi
"$SDK_VENV/bin/pip" install -q -r "$here/requirements.txt"

spec="$work/openapi.yaml"
"$SDK_VENV/bin/python" "$here/filter_spec.py" "$root/openapi.yaml" "$spec"

port=$(free_port)
admin_key="sdk-generate-admin-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
(cd "$work" && exec env PORT="$port" ADMIN_API_KEY="$admin_key" LOG_LEVEL=warning RATE_LIMIT_MAX_REQUESTS=0 AUTH_RATE_LIMIT_MAX_REQUESTS=0 \
    "$root/.build/debug/safeapi-bridge" >"$work/bridge.log" 2>&1) &
pid=$!
base="http://127.0.0.1:$port"
for _ in $(seq 1 60); do curl -sf "$base/health" >/dev/null && break; sleep 0.5; done

generators=(${SDK_GENERATORS:-openapi-python-client openapi-generator-python openapi-generator-typescript-fetch swift-openapi-generator})
rows=()
failed=0
for generator in "${generators[@]}"; do
    echo "== $generator"
    mkdir -p "$work/$generator"
    log="$work/$generator/log"
    bash "$here/$generator/run.sh" "$spec" "$base" "$admin_key" "$work/$generator" 2>&1 | tee "$log" || true
    result=$(grep '^RESULT ' "$log" | tail -1 || true)
    [ -n "$result" ] || result="RESULT generated=no compiled=no passed=0 total=0"
    field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$result"; }
    generated=$(field generated) compiled=$(field compiled) passed=$(field passed) total=$(field total)
    rows+=("| $generator | $generated | $compiled | $passed of $total |")
    if [ "$generated" != yes ] || [ "$compiled" != yes ] || [ "$total" = 0 ] || [ "$passed" != "$total" ]; then failed=1; fi
done

echo
echo "| generator | generated | compiled | calls passed |"
echo "| --- | --- | --- | --- |"
printf '%s\n' "${rows[@]}"
if [ "$failed" -ne 0 ]; then
    echo "a generated client failed; the bridge's log:"
    tail -30 "$work/bridge.log"
    exit 1
fi
