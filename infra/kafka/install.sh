#!/usr/bin/env bash
# Fetch the Kafka broker's jars from Maven Central into <root>/.tools/kafka/libs.
#
# Quick when present: skipped while .tools/kafka/libs/.stamp holds the sha256 of
# infra/kafka/pom.xml (written only after a complete fetch). A changed pom replaces the
# whole folder, so jars of an older Kafka never linger on the classpath.
# Works from any directory: the project root is found from this script's location.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
pom="$root/infra/kafka/pom.xml"
libs="$root/.tools/kafka/libs"
want="$(sha256sum "$pom" | cut -d' ' -f1)"

if [[ -f "$libs/.stamp" && "$(cat "$libs/.stamp")" == "$want" ]]; then
    echo "kafka: jars up to date in $libs"
    exit 0
fi

for tool in mvn java; do
    command -v "$tool" >/dev/null || { echo "kafka: '$tool' not found (needs Maven and Java 17+)" >&2; exit 1; }
done

# Fetch into a scratch folder and swap it in only on success, so an interrupted run
# leaves no half-filled folder that looks complete.
# Maven's output is kept aside and shown only on failure (even with -q, Debian's Maven
# prints stray colour codes).
tmp="$libs.tmp.$$"
log="$(mktemp)"
trap 'rm -rf "$tmp" "$log"' EXIT
if ! mvn -q -B -f "$pom" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$tmp" >"$log" 2>&1; then
    cat "$log" >&2
    echo "kafka: fetching the jars with Maven failed (see above)" >&2
    exit 1
fi
echo "$want" >"$tmp/.stamp"
rm -rf "$libs"
mkdir -p "$(dirname "$libs")"
mv "$tmp" "$libs"
echo "kafka: fetched $(find "$libs" -name '*.jar' | wc -l) jars into $libs"
