#!/usr/bin/env bash
# The flow (../FLOW.md) through a TypeScript client that openapi-generator's typescript-fetch
# generator makes from the spec, compiled by Debian's tsc (strict) and run by Debian's node (its
# global fetch). Nothing is installed: the generated code, node's built-ins and tsc only.
# Usage: bash run.sh SPEC BASE_URL ADMIN_KEY WORK_DIR. Last line:
#   RESULT generated=yes|no compiled=yes|no passed=N total=24
#
# Generator options:
#   withoutRuntimeChecks=true  The default models' instanceOfX() guards narrow with
#                              `'field' in value` on an `object`, which needs TypeScript 4.9;
#                              Debian's tsc is 4.8.4 and rejects them under strict (TS7053, one
#                              per required field). Without runtime checks the models are plain
#                              interfaces (date-times typed as the strings they are on the wire)
#                              and the answers are the parsed JSON.
# Warnings that remain:
#   generator: "OpenAPI 3.1 support is still in beta". The spec is `openapi: 3.1.0`; no
#              generator option turns this off, and the client generates and compiles cleanly.
#   tsc: none.
# The flow's user id carries the run's random suffix, as the appId does (see flow.ts), so runs on
# one server do not collide; the split key id is `flowkey-ts` as in FLOW.md.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
total=24
generated=no compiled=no passed=0
if [ $# -ne 4 ]; then
    echo "usage: bash run.sh SPEC BASE_URL ADMIN_KEY WORK_DIR"
    echo "RESULT generated=$generated compiled=$compiled passed=$passed total=$total"
    exit 1
fi
spec=$1 base=$2 admin_key=$3 work=$4
venv="${SDK_VENV:-/tmp/sdkvenv}"

mkdir -p "$work"
rm -rf "$work/client" "$work/out"
if "$venv/bin/openapi-generator-cli" generate -i "$spec" -g typescript-fetch -o "$work/client" \
        --additional-properties=withoutRuntimeChecks=true >"$work/generate.log" 2>&1; then
    generated=yes
else
    echo "generator failed:"
    grep -v ' INFO ' "$work/generate.log" | tail -30
fi
grep -E '\b(WARN|ERROR)\b|\[(warn|error)\]' "$work/generate.log" | sed 's/^/generator: /'

if [ "$generated" = yes ]; then
    cp "$here/flow.ts" "$work/flow.ts"
    cat >"$work/tsconfig.json" <<'EOF'
{
  "compilerOptions": {
    "target": "ES2020",
    "module": "commonjs",
    "lib": ["es2020", "dom"],
    "strict": true,
    "types": [],
    "outDir": "out"
  },
  "include": ["flow.ts", "client/**/*.ts"]
}
EOF
    if (cd "$work" && tsc -p tsconfig.json); then compiled=yes; else echo "tsc failed"; fi
fi

if [ "$compiled" = yes ]; then
    node "$work/out/flow.js" "$base" "$admin_key" | tee "$work/flow.log"
    passed=$(sed -n 's/^passed=\([0-9]*\) total=.*/\1/p' "$work/flow.log" | tail -1)
    passed=${passed:-0}
fi

echo "RESULT generated=$generated compiled=$compiled passed=$passed total=$total"
[ "$generated" = yes ] && [ "$compiled" = yes ] && [ "$passed" = "$total" ]
