#!/usr/bin/env bash
# What the tests need beyond the build (scripts/deps.sh), installed the same
# way (Debian 12, idempotent): scripts/test.sh runs it first.
#   clang, libclang-rt-14-dev  the libFuzzer stage (scripts/fuzz.sh)
#   gnuplot-nox                the SVG of the bench test (host_bench)
#   python3-jsonschema         JSON output against docs/schema/ (report_json_schema)
#   libxml2-utils              xmllint: JUnit XML against docs/schema/junit.xsd (report_junit)
#   linux-source               the kernel's own KTAP parser, kunit_parser.py (report_ktap)
#   bash-completion            its completionsdir, where the completion installs (completion)
#   parallel                   GNU parallel runs a campaign's shards (explore_shards)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/deps.sh clang libclang-rt-14-dev gnuplot-nox python3-jsonschema \
	libxml2-utils linux-source bash-completion parallel
