#!/usr/bin/env bash
# The flow (../FLOW.md) through a Swift client that apple/swift-openapi-generator 1.14.3 generates
# from the spec with its build plugin (OpenAPIGenerator, flow/Sources/SDKFlow/openapi-generator-config.yaml:
# types and client, internal), on swift-openapi-runtime 1.13.4 and swift-openapi-async-http-client 1.5.0.
# The package is flow/, not this folder: a root package's identity is its folder's name, and
# "swift-openapi-generator" would be the generator's own identity, so SwiftPM would never fetch
# the generator. flow/ is built on its own (--scratch-path .build-sdk/swift, kept between runs; the
# first build takes several minutes), never as part of the server's package.
# Usage: bash run.sh SPEC BASE_URL ADMIN_KEY WORK_DIR. Last line:
#   RESULT generated=yes|no compiled=yes|no passed=N total=24
#
# Warnings that remain (no generator option changes them; run.sh prints what each build shows):
#   generator: 4x "A property name only appears in the required list, but not in the properties
#              map - this is likely a typo; skipping this property", for SplitKeyRequest's
#              `anyOf: [{required: [apiKey]}, {required: [originalKey]}]` and the same for
#              provider/apiProvider. Those subschemas only require a field the allOf's first part
#              defines, which JSON Schema allows; the generator makes them empty structs, and the
#              request is still sent right (the fields come from the first part).
#   compiler:  28x "'startDate' is deprecated" / "'endDate' is deprecated", in the generated
#              Client.swift and Types+Operations.swift: seven analytics operations keep the old
#              query parameters startDate/endDate marked `deprecated: true` (from/to replace
#              them); the generator marks those properties @available(*, deprecated) and then
#              uses them itself. Only when SDKFlow is compiled (cold build, or a spec change).
#   swiftpm:   3x "'swift-distributed-tracing': found 1 file(s) which are unhandled" (its
#              CMakeLists.txt files): that package's manifest, a dependency of async-http-client.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
spec=$1 base=$2 admin_key=$3 work=$4
package="$here/flow"
scratch="$root/.build-sdk/swift"
generated_sources="$scratch/plugins/outputs/flow/SDKFlow/destination/OpenAPIGenerator/GeneratedSources"
total=24
generated=no compiled=no passed=0

mkdir -p "$work"
log="$work/build.log"
# The plugin reads the spec from the target's folder (git-ignored there).
if cp "$spec" "$package/Sources/SDKFlow/openapi.yaml"; then
    started=$(date +%s)
    if swift build --package-path "$package" --scratch-path "$scratch" >"$log" 2>&1; then
        generated=yes compiled=yes
    elif grep -qE '\.swift:[0-9]+:[0-9]+: error:' "$log" && [ -s "$generated_sources/Client.swift" ] \
            && ! grep -qE '^Error: |openapi\.yaml: error:|openapi-generator-config\.yaml: error:' "$log"; then
        generated=yes  # generated, but the Swift did not compile
    fi
    echo "build: $(( $(date +%s) - started )) s (log: $log)"
    # The generator's diagnostics: its block of output, from its configuration summary (whose
    # last line the first diagnostic follows without a line break) to the build's next step.
    awk '/Swift OpenAPI Generator is running/ { on = 1 } on && /^\[[0-9]+\/[0-9]+\]/ { on = 0 } on' "$log" \
        | grep -oE '(warning|error): .*' | sort | uniq -c | sed 's/^ *\([0-9]*\) /generator: \1x /'
    grep -oE "^warning: '[^']+': found [0-9]+ file\(s\) which are unhandled" "$log" | sort | uniq -c \
        | sed 's/^ *\([0-9]*\) /swiftpm: \1x /'
    grep -E '\.swift:[0-9]+:[0-9]+: (warning|error): ' "$log" | sort -u \
        | sed -E 's/^.*\/([^/]+\.swift):[0-9]+:[0-9]+: /\1: /' | sort | uniq -c \
        | sed 's/^ *\([0-9]*\) /compiler: \1x /'
    if [ "$compiled" = no ]; then
        echo "swift build failed:"
        grep -E 'error' "$log" | head -30
    fi
else
    echo "cannot copy $spec into $package/Sources/SDKFlow"
fi

if [ "$compiled" = yes ]; then
    "$scratch/debug/SDKFlow" "$base" "$admin_key" 2>&1 | tee "$work/flow.log"
    passed=$(grep -cE '^ok [0-9]+ ' "$work/flow.log")
fi

echo "RESULT generated=$generated compiled=$compiled passed=$passed total=$total"
[ "$generated" = yes ] && [ "$compiled" = yes ] && [ "$passed" = "$total" ]
