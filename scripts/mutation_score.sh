#!/usr/bin/env bash
# Mutation score of the unit tests over the reconciler's decision core, the
# masking, the loader and components/ (which files and which tests: [tool.mutmut]
# in pyproject.toml). Prints killed/survived/score per module, per area and overall.
# Usage: scripts/mutation_score.sh [--report-only | PATTERN...]   (MUTMUT_CHILDREN=2 by default)
#   PATTERN: mutant names or globs ("components.*"): only those are run, one area at a time.
#   MUTMUT_SAMPLE=N: of each PATTERN, a random sample of N of its mutants (seed MUTMUT_SEED, 1),
#   for an area too big to run whole on a small machine (the score is then the sample's); a
#   PATTERN with fewer mutants, or none generated yet, is run whole. A sample's mutants that
#   have a result already are not run again, so a cut-short run resumes.
set -euo pipefail
cd "$(dirname "$0")/.."
mutmut=.venv/bin/mutmut
# the unit tests only: the real-engine tests skip themselves with this set
export GITOPS_SKIP_E2E=1

sample() {
    "$mutmut" results --all true | .venv/bin/python -c '
import fnmatch, random, sys
patterns, size, seed = sys.argv[1:-2], int(sys.argv[-2]), int(sys.argv[-1])
status = dict(line.strip().rsplit(": ", 1) for line in sys.stdin if ": " in line)
for pattern in patterns:
    matching = sorted(name for name in status if fnmatch.fnmatch(name, pattern))
    if len(matching) <= size:
        print(pattern)
        continue
    # the same sample every time; the part already run is kept, so a cut-short run resumes
    print("\n".join(name for name in random.Random(seed).sample(matching, size) if status[name] == "not checked"))
' "$@" "$MUTMUT_SAMPLE" "${MUTMUT_SEED:-1}"
}

if [[ "${1:-}" != "--report-only" ]]; then
    # the tests run inside mutants/ and their stacks name the project's virtualenv
    mkdir -p mutants && ln -sfn "$(readlink -f .venv)" mutants/.venv
    selected=("$@")
    if [[ -n "${MUTMUT_SAMPLE:-}" && $# -gt 0 ]]; then
        mapfile -t selected < <(sample "$@" | grep .)
    fi
    if [[ $# -gt 0 && ${#selected[@]} -eq 0 ]]; then
        echo "every sampled mutant has a result already" >&2
    else
        # mutmut's progress spinner is noise in a log; its results are read below
        nice -n 10 "$mutmut" run --max-children "${MUTMUT_CHILDREN:-2}" "${selected[@]}" >/dev/null
    fi
fi

# "killed": a unit test failed with the mutant. "timeout": it ran out of CPU time,
# detected as mutmut counts it, shown apart (on a loaded machine a slow test can
# time out too). "no tests": no unit test even runs the mutated function; it counts
# against the score. "not checked" (not run yet) is left out and shown on its own.
"$mutmut" results --all true | .venv/bin/python /dev/fd/3 3<<'SUMMARY'
import collections
import re
import sys

DETECTED = {"killed", "caught by type check"}


def area(module):
    if module.startswith("reconciler.telemetry."):
        return "masking"
    return {"reconciler": "reconciler core", "manifest_loader": "loader"}.get(module.split(".")[0], "components")


counts = collections.defaultdict(collections.Counter)
for line in sys.stdin:
    name, _, status = line.strip().partition(": ")
    module = re.sub(r"\.x[_\u01c1].*$", "", name)  # drop the mangled function name
    outcome = "killed" if status in DETECTED else status if status in ("timeout", "no tests", "not checked") else "survived"
    for key in (module, "area: " + area(module), "all"):
        counts[key][outcome] += 1

if not counts:
    sys.exit("no mutants found: run without --report-only first")
print(f"{'module':<40} {'killed':>7} {'timeout':>8} {'survived':>9} {'no tests':>9} {'score':>7} {'not checked':>12}")
modules = sorted(k for k in counts if not k.startswith("area: ") and k != "all")
areas = sorted(k for k in counts if k.startswith("area: "))
for key in [*modules, "", *areas, "all"]:
    if not key:
        print()
        continue
    c = counts[key]
    checked = c.total() - c["not checked"]
    score = f"{100 * (c['killed'] + c['timeout']) / checked:.1f}%" if checked else "-"
    print(f"{key:<40} {c['killed']:>7} {c['timeout']:>8} {c['survived']:>9} {c['no tests']:>9} {score:>7} {c['not checked']:>12}")
SUMMARY
