#!/usr/bin/env bash
# The official SDKs (openai, anthropic, google-genai) through the bridge's /proxy/{provider}
# routes, against mock providers on 127.0.0.1. Needs a built server (swift build) and the SDKs
# (pip install openai anthropic google-genai). Stops everything it started.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

mock_port=$(free_port)
bridge_port=$(free_port)
provider_key="sk-sdk-check-$(python3 -c 'import secrets; print(secrets.token_hex(8))')"
admin_key="sdk-check-admin-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
python3 "$here/mock_providers.py" "$mock_port" "$work/mock.log" &
pids+=($!)
(cd "$work" && exec env PORT="$bridge_port" ADMIN_API_KEY="$admin_key" LOG_LEVEL=warning \
    OPENAI_API_KEY="$provider_key" OPENAI_BASE_URL="http://127.0.0.1:$mock_port/openai/v1" \
    CLAUDE_API_KEY="$provider_key" CLAUDE_BASE_URL="http://127.0.0.1:$mock_port/anthropic/v1" \
    GEMINI_API_KEY="$provider_key" GEMINI_BASE_URL="http://127.0.0.1:$mock_port/gemini/v1beta" \
    "$root/.build/debug/safeapi-bridge" >"$work/bridge.log" 2>&1) &
pids+=($!)
base="http://127.0.0.1:$bridge_port"
for _ in $(seq 1 60); do curl -sf "$base/health" >/dev/null && break; sleep 0.5; done

json_field() { python3 -c "import json, sys; print(json.load(sys.stdin)['$1'])"; }
secret=$(curl -sf -X POST "$base/admin/apps" -H "X-Admin-Key: $admin_key" -H 'content-type: application/json' \
    -d '{"name":"sdk check","appId":"sdk.check"}' | json_field appSecret)
token=$(curl -sf -X POST "$base/auth/token" -H 'content-type: application/json' \
    -d "{\"userId\":\"sdk-user\",\"appId\":\"sdk.check\",\"appSecret\":\"$secret\"}" | json_field token)

python3 "$here/check_sdks.py" "$base" "$token" "$work/mock.log" "$provider_key" || { echo "bridge log:"; tail -30 "$work/bridge.log"; exit 1; }
