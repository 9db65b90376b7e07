#!/usr/bin/env bash
# Fetch the jars the local Flink cluster adds to PyFlink's distribution (the Kafka SQL
# connector) from Maven Central into <root>/.tools/flink/lib (quick when present; see
# infra/fetch-jars.sh). Works from any directory.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# -DexcludeTransitive: the SQL connector is a fat jar with its dependencies shaded in;
# should a release declare more, they are Flink's own, which the distribution has.
exec bash "$root/infra/fetch-jars.sh" flink "$root/infra/flink/pom.xml" "$root/.tools/flink/lib" \
    -DexcludeTransitive=true
