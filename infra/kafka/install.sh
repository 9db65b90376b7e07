#!/usr/bin/env bash
# Fetch the Kafka broker's jars from Maven Central into <root>/.tools/kafka/libs
# (quick when present; see infra/fetch-jars.sh). Works from any directory.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
exec bash "$root/infra/fetch-jars.sh" kafka "$root/infra/kafka/pom.xml" "$root/.tools/kafka/libs"
