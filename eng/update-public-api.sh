#!/usr/bin/env bash
# Brings the public API lists (src/*/PublicAPI.*.txt) and the package-validation suppressions
# (src/*/CompatibilitySuppressions.xml) up to date with the code, after an intended public API change or a merge.
#
#   eng/update-public-api.sh          new symbols into PublicAPI.Unshipped.txt, removed ones out of it (or marked
#                                     *REMOVED* when they had shipped); then packs and records every breaking change
#                                     against the 0.1.0 baseline (eng/package-baseline/) as a suppression
#   eng/update-public-api.sh --ship   at a release: moves PublicAPI.Unshipped.txt into PublicAPI.Shipped.txt
#
# Review the diff it leaves (git diff -- src/*/PublicAPI.*.txt src/*/CompatibilitySuppressions.xml): it is the
# public API change in short. Needs the .NET SDK and python3.
set -euo pipefail
cd "$(dirname "$0")/.."

projects=(src/LearningTransfer.Permutation src/LearningTransfer.Trajectory src/LearningTransfer)

if [ "${1:-}" = "--ship" ]; then
  for project in "${projects[@]}"; do
    python3 - "$project" <<'PY'
import sys, pathlib
folder = pathlib.Path(sys.argv[1])
shipped_file, unshipped_file = folder / "PublicAPI.Shipped.txt", folder / "PublicAPI.Unshipped.txt"
header = "#nullable enable"
shipped = [l for l in shipped_file.read_text().splitlines() if l.strip() and l != header]
unshipped = [l for l in unshipped_file.read_text().splitlines() if l.strip() and l != header]
removed = {l[len("*REMOVED*"):] for l in unshipped if l.startswith("*REMOVED*")}
added = [l for l in unshipped if not l.startswith("*REMOVED*")]
lines = sorted({l for l in shipped if l not in removed} | set(added), key=lambda l: (l.casefold(), l))
shipped_file.write_text("\n".join([header, *lines]) + "\n")
unshipped_file.write_text(header + "\n")
print(f"{folder}: {len(added)} added and {len(removed)} removed symbols moved into PublicAPI.Shipped.txt")
PY
  done
  exit 0
fi

logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT

# A rebuild of the three packages with warnings left as warnings, so that every project compiles and reports all of
# its API diagnostics; Directory.Build.targets writes each project's diagnostics to $(PublicApiLogDirectory) as SARIF,
# whose RS0016 entries carry the exact line the API file needs.
for pass in 1 2 3; do
  rm -f "$logs"/*.sarif
  dotnet build src/LearningTransfer/LearningTransfer.csproj -c Release --no-incremental -nologo -v q \
    -p:TreatWarningsAsErrors=false -p:PublicApiLogDirectory="$logs" >"$logs/build.txt" 2>&1 || {
      cat "$logs/build.txt"; echo "update-public-api: the build failed for another reason (above)." >&2; exit 1; }

  changed=0
  for project in "${projects[@]}"; do
    name="$(basename "$project")"
    status=0
    python3 - "$project" "$logs/$name.sarif" <<'PY' || status=$?
import json, re, sys, pathlib
folder, log = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
shipped_file, unshipped_file = folder / "PublicAPI.Shipped.txt", folder / "PublicAPI.Unshipped.txt"
header = "#nullable enable"
shipped = set(shipped_file.read_text().splitlines())
unshipped = [l for l in unshipped_file.read_text().splitlines() if l.strip() and l != header]
before = list(unshipped)
results = [r for run in json.loads(log.read_text())["runs"] for r in run.get("results", []) if not r.get("suppressions")]
quoted = lambda r: re.match(r"Symbol '(.*)' is", r["message"]["text"], re.S).group(1)
other = []
for r in results:
    rule, props = r["ruleId"], r.get("properties", {}).get("customProperties", {})
    if rule == "RS0016":  # a public symbol missing from both lists
        for sibling in filter(None, re.split(r"[\r\n;]+", props.get("ApiNamesOfSiblingsToRemove", ""))):
            unshipped = [l for l in unshipped if l != sibling]
        if props["APIName"] not in unshipped:
            unshipped.append(props["APIName"])
    elif rule == "RS0017":  # a listed symbol that is gone from the code
        name = quoted(r)
        if name in unshipped:
            unshipped.remove(name)
        elif name in shipped and "*REMOVED*" + name not in unshipped:
            unshipped.append("*REMOVED*" + name)
    elif rule == "RS0050":  # marked removed, but back in the code
        unshipped = [l for l in unshipped if l != "*REMOVED*" + quoted(r)]
    elif rule.startswith("RS00"):
        other.append(f'{rule}: {r["message"]["text"]}')
unshipped = sorted(set(unshipped), key=lambda l: (l.removeprefix("*REMOVED*").casefold(), l))
unshipped_file.write_text("\n".join([header, *unshipped]) + "\n")
for line in other:
    print(f"{folder.name}: needs a decision, not a list entry: {line}", file=sys.stderr)
added, dropped = set(unshipped) - set(before), set(before) - set(unshipped)
for l in sorted(added): print(f"{folder.name}: + {l}")
for l in sorted(dropped): print(f"{folder.name}: - {l}")
sys.exit(3 if added or dropped else 0)
PY
    case "$status" in
      0) ;;
      3) changed=1 ;;
      *) echo "update-public-api: could not read $logs/$name.sarif." >&2; exit 1 ;;
    esac
  done
  [ "$changed" -eq 0 ] && break
done

# The lists now match the code; this build fails on anything they cannot fix (RS0026, RS0027: overloads with optional
# parameters, a design decision).
dotnet build src/LearningTransfer/LearningTransfer.csproj -c Release -nologo -v q || {
  echo "update-public-api: the lists match the code, but the build still fails (above): fix that by hand." >&2; exit 1; }

# Package validation: every breaking change against the baseline becomes an entry of CompatibilitySuppressions.xml.
# Its semaphores go first, or an unchanged package would not be validated again.
rm -f src/*/obj/Release/*/Microsoft.NET.ApiCompat.ValidatePackage.semaphore
for project in "${projects[@]}"; do
  dotnet pack "$project" -c Release --no-build -nologo -v q -o "$logs/packages" -p:ApiCompatGenerateSuppressionFile=true
  if [ -f "$project/CompatibilitySuppressions.xml" ] && ! grep -q "<Suppression>" "$project/CompatibilitySuppressions.xml"; then
    rm "$project/CompatibilitySuppressions.xml" # no breaking change left to record
  fi
done
echo "update-public-api: done; review: git diff -- 'src/*/PublicAPI.*.txt' 'src/*/CompatibilitySuppressions.xml'"
