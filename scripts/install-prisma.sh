#!/usr/bin/env bash
# Installs the real Prisma CLI (pinned) for offline use against PostgreSQL, with
# no download from Prisma's binary host: the native schema-engine is replaced by
# Prisma's WebAssembly schema engine (npm package @prisma/schema-engine-wasm)
# running over node-postgres (@prisma/adapter-pg), behind a small stand-in
# program that speaks the native engine's command line and stdio JSON-RPC
# (the CLI is pointed at it with PRISMA_SCHEMA_ENGINE_BINARY).
#
# Usage: scripts/install-prisma.sh [PREFIX]
#   PREFIX defaults to /var/cache/auzdb/prisma-7.10.1.
# Idempotent: a complete install is detected and reused.
# The last line on stdout is the path of the wrapper to run, e.g.
#   PREFIX/bin/prisma migrate deploy|status|resolve --config PREFIX/generic/prisma.config.ts
# with DATABASE_URL and PRISMA_MIGRATIONS_DIR set (see PREFIX/generic/README).
# Needs node >= 20.19 (Prisma 7's floor) and npm with access to the npm registry.
set -euo pipefail

PRISMA_VERSION=7.10.1
SCHEMA_ENGINE_WASM_VERSION=8.1.0-2.59be4fda12412a79eeb9c2ae727b6aa723593323
ADAPTER_PG_VERSION=7.10.1
PG_VERSION=8.23.1
SHIM_REVISION=1
PREFIX=${1:-/var/cache/auzdb/prisma-${PRISMA_VERSION}}

die() { echo "install-prisma: error: $*" >&2; exit 1; }
log() { echo "install-prisma: $*" >&2; }
case "$PREFIX" in /*) ;; *) PREFIX="$(pwd)/$PREFIX" ;; esac
PREFIX=${PREFIX%/}
[[ -n "$PREFIX" && "$PREFIX" != "/" ]] || die "refusing to install into '/'"

command -v node >/dev/null 2>&1 || die "node is not installed (need node >= 20.19; e.g. apt-get install nodejs, or NodeSource)"
command -v npm >/dev/null 2>&1 || die "npm is not installed (apt-get install npm)"
NODE_BIN=$(command -v node)
node -e '
  const [a, b] = process.versions.node.split(".").map(Number);
  process.exit((a === 20 && b >= 19) || (a === 22 && b >= 12) || a >= 24 ? 0 : 1)' \
  || die "node $(node -v) is not supported by Prisma ${PRISMA_VERSION} (needs ^20.19 || ^22.12 || >=24)"

STAMP="schema-engine-wasm-shim r${SHIM_REVISION}; prisma@${PRISMA_VERSION}; @prisma/schema-engine-wasm@${SCHEMA_ENGINE_WASM_VERSION}; @prisma/adapter-pg@${ADAPTER_PG_VERSION}; @prisma/driver-adapter-utils@${ADAPTER_PG_VERSION}; pg@${PG_VERSION}"

is_complete() {
  local d=$1
  [[ -f "$d/.install-complete" && "$(cat "$d/.install-complete")" == "$STAMP" ]] || return 1
  [[ -x "$d/bin/prisma" && -x "$d/schema-engine-wasm-shim.mjs" && -f "$d/generic/prisma.config.ts" ]] || return 1
  [[ -f "$d/node_modules/prisma/build/index.js" && -f "$d/node_modules/@prisma/schema-engine-wasm/schema_engine_bg.wasm" ]] || return 1
  [[ -f "$d/node_modules/@prisma/adapter-pg/package.json" && -f "$d/node_modules/pg/package.json" ]] || return 1
}

if is_complete "$PREFIX"; then
  log "already installed in $PREFIX"
  echo "$PREFIX/bin/prisma"
  exit 0
fi

if [[ -e "$PREFIX" ]] && [[ -n "$(ls -A "$PREFIX" 2>/dev/null)" ]] \
   && ! grep -qs '"name": "auzdb-prisma-cli"' "$PREFIX/package.json"; then
  die "$PREFIX exists and is not an install made by this script; choose another PREFIX"
fi
mkdir -p "$(dirname "$PREFIX")" || die "cannot create $(dirname "$PREFIX")"
exec 9>"$PREFIX.lock" || die "cannot create lock file $PREFIX.lock"
command -v flock >/dev/null 2>&1 && flock 9
if is_complete "$PREFIX"; then # another run finished while we waited
  echo "$PREFIX/bin/prisma"
  exit 0
fi

STAGE="$PREFIX.staging.$$"
trap 'rm -rf "$STAGE"' EXIT
rm -rf "$STAGE"
mkdir -p "$STAGE/bin" "$STAGE/generic"

cat >"$STAGE/package.json" <<EOF
{
  "name": "auzdb-prisma-cli",
  "private": true,
  "description": "Prisma CLI ${PRISMA_VERSION} with the WebAssembly schema engine over node-postgres (installed by scripts/install-prisma.sh)",
  "dependencies": {
    "prisma": "${PRISMA_VERSION}",
    "@prisma/schema-engine-wasm": "${SCHEMA_ENGINE_WASM_VERSION}",
    "@prisma/adapter-pg": "${ADAPTER_PG_VERSION}",
    "@prisma/driver-adapter-utils": "${ADAPTER_PG_VERSION}",
    "pg": "${PG_VERSION}"
  }
}
EOF

log "installing prisma@${PRISMA_VERSION} + @prisma/schema-engine-wasm@${SCHEMA_ENGINE_WASM_VERSION} + @prisma/adapter-pg@${ADAPTER_PG_VERSION} into $PREFIX"
# --ignore-scripts: prisma's preinstall and @prisma/engines' postinstall would try
# to download native engines from Prisma's binary host, which is not needed here.
if ! (cd "$STAGE" && npm install --prefix "$STAGE" --no-audit --no-fund --ignore-scripts --omit=dev \
        --loglevel=error >"$STAGE/npm-install.log" 2>&1); then
  cat "$STAGE/npm-install.log" >&2 || true
  die "npm install failed (is the npm registry reachable?)"
fi

cat >"$STAGE/schema-engine-wasm-shim.mjs" <<'SHIM_EOF'
#!/usr/bin/env node
// Stand-in for Prisma's native `schema-engine` binary (set PRISMA_SCHEMA_ENGINE_BINARY
// to this file). Speaks the binary's command line (`cli can-connect-to-database`,
// `cli create-database`, `cli drop-database`, `--version`) and its stdio JSON-RPC,
// and runs @prisma/schema-engine-wasm over @prisma/adapter-pg (node-postgres).
// Written by scripts/install-prisma.sh.
import fs from 'node:fs'
import path from 'node:path'
import readline from 'node:readline'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const require = createRequire(path.join(here, 'package.json'))
const DEBUG = !!process.env.PRISMA_WASM_SHIM_DEBUG
const dbg = (...a) => { if (DEBUG) process.stderr.write('[shim] ' + a.map(x => typeof x === 'string' ? x : JSON.stringify(x)).join(' ') + '\n') }

const argv = process.argv.slice(2)
const datamodels = []
let datasource = null
let cliCommand = null
for (let i = 0; i < argv.length; i++) {
  const a = argv[i]
  if (a === '--datamodels') datamodels.push(argv[++i])
  else if (a === '--datasource') datasource = JSON.parse(argv[++i])
  else if (a === '--enabled-preview-features' || a === '--extension-types') i++
  else if (a === 'cli') cliCommand = argv[++i]
  else if (a === '--version' || a === '-V') {
    const v = JSON.parse(fs.readFileSync(path.join(path.dirname(require.resolve('@prisma/schema-engine-wasm')), 'package.json'), 'utf8')).version
    console.log(`schema-engine-wasm ${v} (over @prisma/adapter-pg)`)
    process.exit(0)
  }
}

function logLine(level, fields) {
  process.stderr.write(JSON.stringify({ timestamp: new Date().toISOString(), level, fields, target: 'schema_engine::logger' }) + '\n')
}
function logError(code, message) { logLine('ERROR', { message, error_code: code }) }

const url = (datasource && datasource.url) || process.env.DATABASE_URL
if (!url) { process.stderr.write('\n'); logError('P1012', 'No datasource url (--datasource or DATABASE_URL)'); process.exit(1) }

// Prisma-only URL parameters are not for node-postgres; ?schema= becomes search_path.
function pgConfig(u, overrideDb) {
  const parsed = new URL(u)
  const schema = parsed.searchParams.get('schema') || undefined
  for (const k of ['schema', 'connection_limit', 'pool_timeout', 'pgbouncer', 'statement_cache_size', 'socket_timeout', 'connect_timeout']) parsed.searchParams.delete(k)
  if (overrideDb !== undefined) parsed.pathname = '/' + encodeURIComponent(overrideDb)
  const cfg = { connectionString: parsed.toString() }
  if (schema) cfg.options = `-c search_path="${schema.replace(/"/g, '""')}"`
  return { cfg, schema, dbName: decodeURIComponent(parsed.pathname.replace(/^\//, '')) || 'postgres', host: parsed.hostname, port: parsed.port || '5432' }
}

function mapConnError(e, info) {
  const at = `\`${info.host}:${info.port}\``
  if (e.code === '3D000') return ['P1003', `Database \`${info.dbName}\` does not exist on the database server at ${at}.`]
  if (e.code === '28P01' || e.code === '28000') return ['P1000', `Authentication failed against database server at ${at}, the provided database credentials for \`${decodeURIComponent(new URL(url).username) || 'postgres'}\` are not valid.\n\nPlease make sure to provide valid database credentials for the database server at ${at}.`]
  if (['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', 'ENOENT', 'EAI_AGAIN'].includes(e.code)) return ['P1001', `Can't reach database server at ${at}\n\nPlease make sure your database server is running at ${at}.`]
  return ['P1000', String(e.message || e)]
}

async function cliMode(cmd) {
  const pg = require('pg')
  const info = pgConfig(url)
  process.stderr.write('\n') // the CLI ignores the first stderr line
  if (cmd === 'can-connect-to-database') {
    const c = new pg.Client(info.cfg)
    try { await c.connect(); await c.query('SELECT 1'); await c.end(); process.exit(0) } catch (e) { const [code, msg] = mapConnError(e, info); logError(code, msg); process.exit(1) }
  }
  if (cmd === 'create-database' || cmd === 'drop-database') {
    const admin = pgConfig(url, 'postgres')
    try {
      const c = new pg.Client(admin.cfg)
      await c.connect()
      const q = '"' + info.dbName.replace(/"/g, '""') + '"'
      await c.query(cmd === 'create-database' ? `CREATE DATABASE ${q}` : `DROP DATABASE ${q}`)
      await c.end()
      if (cmd === 'create-database' && info.schema) {
        const c2 = new pg.Client(info.cfg)
        await c2.connect()
        await c2.query(`CREATE SCHEMA IF NOT EXISTS "${info.schema.replace(/"/g, '""')}"`)
        await c2.end()
      }
      process.exit(0)
    } catch (e) { const [code, msg] = mapConnError(e, admin); logError(code, msg); process.exit(1) }
  }
  logError('P1000', `schema-engine-wasm shim: unsupported cli command ${cmd}`)
  process.exit(1)
}

async function loadWasmEngine() {
  const pkgDir = path.dirname(require.resolve('@prisma/schema-engine-wasm'))
  const glue = await import(path.join(pkgDir, 'schema_engine_bg.js'))
  const mod = new WebAssembly.Module(fs.readFileSync(path.join(pkgDir, 'schema_engine_bg.wasm')))
  const inst = new WebAssembly.Instance(mod, { './schema_engine_bg.js': glue })
  glue.__wbg_set_wasm(inst.exports)
  inst.exports.__wbindgen_start()
  return glue
}

async function rpcMode() {
  const { PrismaPg } = require('@prisma/adapter-pg')
  const { bindMigrationAwareSqlAdapterFactory } = require('@prisma/driver-adapter-utils')
  const info = pgConfig(url)
  // One connection, like the native engine, so the session advisory lock
  // (pg_advisory_lock(72707369)) and the migration scripts share it.
  const factory = new PrismaPg({ ...info.cfg, max: 1 }, info.schema ? { schema: info.schema } : undefined)
  // @prisma/adapter-pg's executeScript splits a script on every ';' and runs the
  // pieces one by one (breaks $$-bodies and ';' in literals, and is not atomic).
  // The native engine sends the whole migration.sql as one simple-protocol batch,
  // which PostgreSQL runs as one implicit transaction: do the same.
  if (!process.env.PRISMA_WASM_SHIM_SPLIT_SCRIPTS) {
    for (const m of ['connect', 'connectToShadowDb']) {
      const orig = factory[m].bind(factory)
      factory[m] = async (...a) => {
        const ad = await orig(...a)
        ad.executeScript = async (script) => {
          try { await ad.underlyingDriver().query(script) } catch (e) { ad.onError(e) }
        }
        return ad
      }
    }
  }
  const bound = bindMigrationAwareSqlAdapterFactory(factory)
  const glue = await loadWasmEngine()
  const files = datamodels.map(p => [p, fs.readFileSync(p, 'utf8')])
  let engine = null
  const getEngine = async () => engine ??= await glue.SchemaEngine.new({ datamodels: files.length ? files : undefined }, (msg) => dbg('log', msg), bound)

  const methodMap = { getDatabaseVersion: 'version' }
  const send = (obj) => process.stdout.write(JSON.stringify(obj) + '\n')
  let chain = Promise.resolve()
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity })
  rl.on('line', (line) => {
    if (!line.trim()) return
    let req
    try { req = JSON.parse(line) } catch { return }
    if (req.method === undefined) return
    chain = chain.then(async () => {
      const m = methodMap[req.method] ?? req.method
      dbg('call', m, req.params)
      try {
        const eng = await getEngine()
        if (typeof eng[m] !== 'function') throw new Error(`Method not supported by the wasm schema engine: ${req.method}`)
        const result = await eng[m](req.params)
        dbg('result', m, result)
        send({ jsonrpc: '2.0', id: req.id, result: result === undefined ? null : result })
      } catch (e) {
        dbg('error', m, { name: e?.name, code: e?.code, message: e?.message, meta: e?.meta, cause: e?.cause })
        const isPanic = e?.name === 'RuntimeError'
        const data = { is_panic: isPanic, message: String(e?.message ?? e) }
        if (e && typeof e === 'object' && typeof e.code === 'string') { data.error_code = e.code; if (e.meta) data.meta = e.meta }
        if (isPanic) data.error = { message: data.message }
        send({ jsonrpc: '2.0', id: req.id, error: { code: 4466, message: 'An error happened. Check the data field for details.', data } })
      }
    })
  })
  rl.on('close', () => { chain.then(() => { try { engine?.free() } catch {} ; process.exit(0) }) })
}

if (cliCommand) await cliMode(cliCommand)
else await rpcMode()
SHIM_EOF
chmod 755 "$STAGE/schema-engine-wasm-shim.mjs"

cat >"$STAGE/bin/prisma" <<EOF
#!/usr/bin/env bash
# Prisma CLI ${PRISMA_VERSION} with the WebAssembly schema engine (written by scripts/install-prisma.sh).
set -euo pipefail
here=\$(cd "\$(dirname "\$(readlink -f "\${BASH_SOURCE[0]}")")/.." && pwd)
node_bin=\${PRISMA_NODE:-\$(command -v node || echo "${NODE_BIN}")}
export PATH="\$(dirname "\$node_bin"):\$PATH"
export PRISMA_SCHEMA_ENGINE_BINARY="\${PRISMA_SCHEMA_ENGINE_BINARY:-\$here/schema-engine-wasm-shim.mjs}"
export CHECKPOINT_DISABLE=1 PRISMA_HIDE_UPDATE_MESSAGE=1
exec "\$node_bin" "\$here/node_modules/prisma/build/index.js" "\$@"
EOF
chmod 755 "$STAGE/bin/prisma"

cat >"$STAGE/generic/prisma.config.ts" <<'EOF'
// Generic config: everything comes from the environment.
//   DATABASE_URL          postgresql://user@host:port/db[?schema=name]
//   PRISMA_MIGRATIONS_DIR folder holding migration_lock.toml and <ts>_<name>/migration.sql
// No import of 'prisma/config': this folder has no node_modules of its own.
export default {
  schema: 'schema.prisma',
  migrations: { path: process.env.PRISMA_MIGRATIONS_DIR },
  datasource: { url: process.env.DATABASE_URL },
}
EOF
cat >"$STAGE/generic/schema.prisma" <<'EOF'
datasource db {
  provider = "postgresql"
}
EOF
cat >"$STAGE/generic/README" <<'EOF'
DATABASE_URL=postgresql://postgres@127.0.0.1:5432/db \
PRISMA_MIGRATIONS_DIR=/abs/path/to/migrations \
  ../bin/prisma migrate deploy|status|resolve --config /abs/path/to/generic/prisma.config.ts
A relative PRISMA_MIGRATIONS_DIR is taken relative to this folder (the config's).
EOF

# Smoke test: the CLI starts and finds the stand-in engine, with no network.
if ! out=$("$STAGE/bin/prisma" --version 2>&1); then
  echo "$out" >&2
  die "the installed prisma CLI does not start"
fi
grep -q "schema-engine-wasm ${SCHEMA_ENGINE_WASM_VERSION}" <<<"$out" || { echo "$out" >&2; die "prisma --version does not show the wasm schema engine"; }

echo "$STAMP" >"$STAGE/.install-complete"
rm -rf "$PREFIX"
mv "$STAGE" "$PREFIX"
trap - EXIT
log "installed in $PREFIX"
echo "$PREFIX/bin/prisma"
