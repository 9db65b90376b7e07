#!/usr/bin/env bash
# Fetch the jars a pom declares from Maven Central into a folder, once.
#
#   infra/fetch-jars.sh NAME POM DEST [extra mvn dependency:copy-dependencies args…]
#
# Quick when present: skipped while DEST/.stamp holds the sha256 of POM (written only
# after a complete fetch). A changed pom replaces the whole folder, so jars of an older
# version never linger on a classpath. The fetch goes into a scratch folder swapped in
# only on success, so an interrupted run leaves no half-filled folder that looks
# complete. Maven's output is kept aside and shown only on failure (even with -q,
# Debian's Maven prints stray colour codes).
set -euo pipefail

name="$1" pom="$2" dest="$3"
shift 3
want="$(sha256sum "$pom" | cut -d' ' -f1)"

if [[ -f "$dest/.stamp" && "$(cat "$dest/.stamp")" == "$want" ]]; then
    echo "$name: jars up to date in $dest"
    exit 0
fi

for tool in mvn java; do
    command -v "$tool" >/dev/null || { echo "$name: '$tool' not found (needs Maven and Java 17)" >&2; exit 1; }
done

tmp="$dest.tmp.$$"
log="$(mktemp)"
trap 'rm -rf "$tmp" "$log"' EXIT
if ! mvn -q -B -f "$pom" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$tmp" "$@" >"$log" 2>&1; then
    cat "$log" >&2
    echo "$name: fetching the jars with Maven failed (see above)" >&2
    exit 1
fi
echo "$want" >"$tmp/.stamp"
rm -rf "$dest"
mkdir -p "$(dirname "$dest")"
mv "$tmp" "$dest"
echo "$name: fetched $(find "$dest" -name '*.jar' | wc -l) jar(s) into $dest"
