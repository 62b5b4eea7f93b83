#!/usr/bin/env bash
# The Helm chart k8s/helm/auzdb rendered locally and the output validated:
# Helm cannot be installed here, so tests/deploy/helmlite (Go text/template +
# Sprig + Helm's include/tpl/required/toYaml/fromYaml, values coalescing and
# file:// dependencies) renders it like `helm template`; the GitHub workflow
# runs the real `helm lint` and `helm template | kubeconform -strict`.
# For the defaults, every ci/*-values.yaml and the example app chart that uses
# the init-container snippet: yamllint, the Kubernetes API schemas (strict)
# and the deployment policy, hooks and their weights, and what each value
# turns into. Needs no database. Skips (77) without the tools from
# scripts/install-deploy-tools.sh.
set -uo pipefail
. "$(dirname "$0")/deploy/common.sh"
need yamllint
node_tools
helm_tool
cd "$DEPLOY_SRC" || exit 1

T_NAME=deploy_helm
T_PASSED=0
T_TMP=$(mktemp -d "/tmp/auzdb-test-$T_NAME.XXXXXX")
trap 'rm -rf "$T_TMP"' EXIT
fail() { echo "FAIL [$T_NAME]: $*" >&2; [ -s "$T_TMP/out" ] && tail -n 40 "$T_TMP/out" >&2; echo "$T_PASSED passed, 1 failed"; exit 1; }
pass() { T_PASSED=$((T_PASSED + 1)); echo "ok $T_PASSED - $*"; }
chart=k8s/helm/auzdb
V=(node tests/deploy/validate.mjs)

render() { # render NAME ARGS...: helmlite into $T_TMP/NAME.yaml
  local name=$1; shift
  "$HELMLITE" "$@" > "$T_TMP/$name.yaml" 2> "$T_TMP/out" || fail "rendering $name failed: $(cat "$T_TMP/out")"
}
# yq-lite: node prints a JSON path of the rendered object KIND
get() { # get NAME KIND JS-EXPRESSION-ON-o
  node -e '
    const fs = require("fs"), YAML = require("yaml");
    const docs = YAML.parseAllDocuments(fs.readFileSync(process.argv[1], "utf8"), { version: "1.1" }).map((d) => d.toJS()).filter(Boolean);
    const o = docs.find((d) => d.kind === process.argv[2]);
    if (!o) { console.log("<no " + process.argv[2] + ">"); process.exit(0); }
    const v = (new Function("o", "return (" + process.argv[3] + ")"))(o);
    console.log(typeof v === "string" ? v : JSON.stringify(v));' "$T_TMP/$1.yaml" "$2" "$3"
}
eq() { [ "$1" = "$2" ] || fail "${3:-value}: expected '$2', got '$1'"; }
lint_cfg='{extends: default, rules: {line-length: disable, document-start: disable, empty-lines: disable, comments: {min-spaces-from-content: 1}, indentation: {spaces: 2, indent-sequences: whatever}}}'

# ---- the defaults need a database Secret
if "$HELMLITE" "$chart" > "$T_TMP/default.yaml" 2> "$T_TMP/out"; then fail "rendered without a database Secret or URL"; fi
grep -q 'set database.existingSecret (recommended) or database.masterUrl' "$T_TMP/out" || fail "no helpful error without a database"
pass "without database.existingSecret or database.masterUrl rendering fails with a clear message"

# ---- every CI values file
for f in "$chart"/ci/*-values.yaml; do
  n=$(basename "$f" -values.yaml)
  render "$n" -f "$f" --release auzdb "$chart"
  yamllint -s -f parsable -d "$lint_cfg" "$T_TMP/$n.yaml" > "$T_TMP/out" 2>&1 || fail "yamllint on the $n render"
  "${V[@]}" k8s src/exitcodes.h "$T_TMP/$n.yaml" > "$T_TMP/out" 2>&1 || fail "the $n render does not validate"
  objs=$(grep -c '^ok ' "$T_TMP/out")
  pass "ci/$n-values.yaml renders $objs objects that pass yamllint, the Kubernetes API schemas (strict) and the deployment policy"
done

# ---- hooks (existing-secret: the usual install)
eq "$(get existing-secret Job 'o.metadata.annotations["helm.sh/hook"]')" "pre-install,pre-upgrade" "Job hook"
eq "$(get existing-secret Job 'o.metadata.annotations["helm.sh/hook-weight"]')" "0" "Job weight"
eq "$(get existing-secret Job 'o.metadata.annotations["helm.sh/hook-delete-policy"]')" "before-hook-creation" "Job delete policy"
for k in ConfigMap ServiceAccount; do
  eq "$(get existing-secret $k 'o.metadata.annotations["helm.sh/hook"] + " " + o.metadata.annotations["helm.sh/hook-weight"] + " " + o.metadata.annotations["helm.sh/hook-delete-policy"]')" \
     "pre-install,pre-upgrade -10 before-hook-creation" "$k hook"
done
eq "$(get existing-secret Secret 'o')" "<no Secret>" "Secret with existingSecret"
eq "$(get full Secret 'o.metadata.annotations["helm.sh/hook-weight"] + " " + Object.keys(o.stringData).join(",")')" "-10 master-url" "created Secret"
eq "$(get full Job 'o.metadata.annotations["helm.sh/hook-delete-policy"]')" "before-hook-creation,hook-succeeded" "deleteOnSuccess"
eq "$(get sharded Job 'JSON.stringify(o.metadata.annotations || {})')" "{}" "sharded (job.hook false) annotations"
eq "$(get sharded ConfigMap 'JSON.stringify(o.metadata.annotations || {})')" "{}" "no hook on the ConfigMap when job.hook is false"
pass "hooks: Job pre-install,pre-upgrade weight 0; Secret/ConfigMap/ServiceAccount weight -10 (exist first); before-hook-creation (+hook-succeeded); plain resources with job.hook=false"

# ---- what the values turn into
eq "$(get existing-secret Job 'o.spec.podFailurePolicy.rules.map((r) => r.action + ":" + (r.onExitCodes ? r.onExitCodes.values.join(",") : r.onPodConditions[0].type)).join(" ")')" \
   "Ignore:DisruptionTarget FailJob:1,2,4,7,8,9 Count:3,5,6,10" "podFailurePolicy"
eq "$(get existing-secret Job 'o.spec.template.spec.volumes.find((v) => v.name === "auzdb-backups").persistentVolumeClaim.claimName')" "auzdb-backups" "backup claim"
eq "$(get existing-secret Job 'o.spec.template.spec.containers[0].image')" "registry.example.com/auzguard/auzdb:0.1.0" "image"
eq "$(get full Job 'o.spec.template.spec.containers[0].image')" \
   "registry.example.com/auzguard/auzdb@sha256:0000000000000000000000000000000000000000000000000000000000000000" "image digest"
eq "$(get full Job 'o.spec.template.spec.containers[0].args.join(" ")')" "run --verbose" "args"
eq "$(get full ConfigMap '["AUZDB_TENANTS", "AUZDB_FAIL_FAST", "PGSSLROOTCERT", "AUZDB_BACKUP", "AUZDB_BACKUP_KEEP", "AUZDB_BACKUP_COMPRESSION", "AUZDB_LOG_FORMAT"].map((k) => k + "=" + o.data[k]).join(" ")')" \
   "AUZDB_TENANTS=acme,globex AUZDB_FAIL_FAST=1 PGSSLROOTCERT=/var/run/secrets/auzdb-ca/ca.crt AUZDB_BACKUP=always AUZDB_BACKUP_KEEP=5 AUZDB_BACKUP_COMPRESSION=9 AUZDB_LOG_FORMAT=text" "settings"
eq "$(get full Job 'o.spec.template.spec.containers[0].env.find((e) => e.name === "AUZDB_TENANT_URL_TEMPLATE").valueFrom.secretKeyRef.name')" "auzdb-tenant-template" "template from a Secret"
eq "$(get full ConfigMap 'String(o.data.AUZDB_TENANT_URL_TEMPLATE)')" "undefined" "template kept out of the ConfigMap"
eq "$(get full Job 'o.spec.template.spec.volumes.find((v) => v.name === "auzdb-backups").emptyDir.sizeLimit')" "5Gi" "emptyDir backups"
eq "$(get sharded Job '[o.spec.completionMode, o.spec.completions, o.spec.parallelism, o.spec.backoffLimitPerIndex, o.spec.backoffLimit].join(" ")')" "Indexed 3 3 3 " "Indexed Job"
eq "$(get sharded Job 'o.spec.template.spec.containers[0].env.filter((e) => /SHARDS|INDEX|WAIT/.test(e.name)).map((e) => e.name + "=" + (e.value || e.valueFrom.fieldRef.fieldPath)).join(" ")')" \
   "AUZDB_SHARDS=3 JOB_COMPLETION_INDEX=metadata.annotations['batch.kubernetes.io/job-completion-index'] AUZDB_WAIT_TIMEOUT=900" "shard env"
eq "$(get sharded Job 'o.spec.podFailurePolicy.rules[1].action')" "FailIndex" "sharded fatal action"
eq "$(get sharded ConfigMap 'o.data.AUZDB_BACKUP + " " + String(o.data.AUZDB_BACKUP_DIR)')" "never undefined" "backups off"
eq "$(get sharded Job 'String(o.spec.template.spec.volumes.find((v) => v.name === "auzdb-backups"))')" "undefined" "no backup volume when off"
eq "$(get sharded Job 'o.spec.template.spec.serviceAccountName')" "default" "serviceAccount.create false"
pass "values map to the objects: image tag/digest, args, every setting, tenant template from a Secret, CA Secret, backup claim/emptyDir/off, Indexed Job with FailIndex"

# every environment variable src/ reads appears in some render
cat "$T_TMP"/*.yaml > "$T_TMP/all-renders.txt"
for v in $(grep -ohE '(getenv|envs|env_or_file|env_seconds)\("[A-Z_]+"' src/*.c | sed -E 's/.*\("//; s/"$//' | sort -u); do
  case "$v" in PGDATABASE|PGPASSWORD) continue ;;
    MASTER_DATABASE_URL|DATABASE_URL) v=MASTER_DATABASE_URL_FILE ;; esac
  grep -q "$v" "$T_TMP/all-renders.txt" || fail "no render sets $v"
done
pass "the renders set every environment variable auzdb reads"

# ---- a schema-valid but policy-breaking override is caught in the render
printf 'securityContext:\n  readOnlyRootFilesystem: false\n' > "$T_TMP/rw-values.yaml"
render rw -f "$chart/ci/existing-secret-values.yaml" -f "$T_TMP/rw-values.yaml" "$chart"
if "${V[@]}" k8s src/exitcodes.h "$T_TMP/rw.yaml" > "$T_TMP/out" 2>&1; then fail "policy accepted a writable root filesystem"; fi
grep -q 'readOnlyRootFilesystem must be true' "$T_TMP/out" || fail "wrong policy message"
pass "the render check catches a writable root filesystem (values.schema.json forbids it too)"

# ---- the example app chart: the init-container snippet
render app --release app k8s/helm/examples/auzguard-app
"${V[@]}" k8s src/exitcodes.h "$T_TMP/app.yaml" > "$T_TMP/out" 2>&1 || fail "the example app render does not validate"
eq "$(get app Deployment 'o.spec.template.spec.initContainers.map((c) => c.name + " " + c.args.join(" ")).join()')" "auzdb run" "init container"
eq "$(get app Deployment 'o.spec.template.spec.initContainers[0].env.find((e) => e.name === "MASTER_DATABASE_URL_FILE").value')" "/var/run/secrets/auzdb/master-url" "init container URL file"
eq "$(get app Deployment 'o.spec.template.spec.volumes.map((v) => v.name + ":" + Object.keys(v).filter((k) => k !== "name")[0]).join(" ")')" "auzdb-database:secret auzdb-backups:emptyDir" "init container volumes"
grep -q '^# Source: auzguard-app/charts/auzdb/templates/job.yaml' "$T_TMP/app.yaml" || fail "the dependency's hook Job is missing"
pass "example app chart: the snippet adds a hardened auzdb init container (URL file, emptyDir backups) next to the dependency's hook Job; all objects validate"

echo "$T_PASSED passed, 0 failed"
