#!/usr/bin/env bash
# Fetch the jars the local Flink cluster adds to PyFlink's distribution (the Kafka SQL
# connector) from Maven Central into <root>/.tools/flink/lib.
#
# Quick when present: skipped while .tools/flink/lib/.stamp holds the sha256 of
# infra/flink/pom.xml (written only after a complete fetch). A changed pom replaces the
# whole folder, so a connector of an older version never lingers beside the new one.
# Works from any directory: the project root is found from this script's location.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
pom="$root/infra/flink/pom.xml"
lib="$root/.tools/flink/lib"
want="$(sha256sum "$pom" | cut -d' ' -f1)"

if [[ -f "$lib/.stamp" && "$(cat "$lib/.stamp")" == "$want" ]]; then
    echo "flink: jars up to date in $lib"
    exit 0
fi

for tool in mvn java; do
    command -v "$tool" >/dev/null || { echo "flink: '$tool' not found (needs Maven and Java 17)" >&2; exit 1; }
done

# Fetch into a scratch folder and swap it in only on success, so an interrupted run
# leaves no half-filled folder that looks complete.
# Maven's output is kept aside and shown only on failure (even with -q, Debian's Maven
# prints stray colour codes).
# -DexcludeTransitive: the SQL connector is a fat jar with its dependencies shaded in.
# Its pom declares only test-scoped ones today; should a release declare more, they are
# Flink's own, which the distribution already has (a second copy would clash).
tmp="$lib.tmp.$$"
log="$(mktemp)"
trap 'rm -rf "$tmp" "$log"' EXIT
if ! mvn -q -B -f "$pom" dependency:copy-dependencies \
    -DincludeScope=runtime -DexcludeTransitive=true -DoutputDirectory="$tmp" >"$log" 2>&1; then
    cat "$log" >&2
    echo "flink: fetching the jars with Maven failed (see above)" >&2
    exit 1
fi
echo "$want" >"$tmp/.stamp"
rm -rf "$lib"
mkdir -p "$(dirname "$lib")"
mv "$tmp" "$lib"
echo "flink: fetched $(find "$lib" -name '*.jar' | wc -l) jar(s) into $lib"
