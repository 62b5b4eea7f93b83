# shellcheck shell=bash
# tests/deploy/common.sh - sourced by tests/t_deploy_*.sh (bash).
# skip MSG: CTest's skip (exit 77) with the reason; need TOOL...: skip unless
# every tool is on PATH; node_tools: sets NODE_PATH to the pinned npm tools
# that scripts/install-deploy-tools.sh put into the cache (skip if absent).
DEPLOY_SRC=${AUZDB_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
skip() { echo "SKIP [$(basename "$0" .sh)]: $* (run scripts/install-deploy-tools.sh)"; exit 77; }
need() {
  local t
  for t in "$@"; do command -v "$t" >/dev/null 2>&1 || skip "$t is not installed"; done
}
node_tools() {
  local key dir
  need node
  key=$(cat "$DEPLOY_SRC/tests/deploy/package.json" "$DEPLOY_SRC/tests/deploy/package-lock.json" | sha256sum | cut -c1-12)
  dir="${AUZDB_TOOLS_CACHE:-/var/cache/auzdb}/node-tools-$key"
  [ -f "$dir/.complete" ] || skip "pinned npm tools not found in $dir"
  export NODE_PATH="$dir/node_modules"
}
# helm_tool: sets HELMLITE to tests/deploy/helmlite built by the install script (skip if absent)
helm_tool() {
  local key
  key=$(cat "$DEPLOY_SRC/tests/deploy/helmlite/main.go" "$DEPLOY_SRC/tests/deploy/helmlite/go.mod" | sha256sum | cut -c1-12)
  HELMLITE="${AUZDB_TOOLS_CACHE:-/var/cache/auzdb}/helmlite-$key/helmlite"
  [ -x "$HELMLITE" ] || skip "helmlite (Helm template renderer) not built: $HELMLITE"
}
