#!/usr/bin/env bash
# Deployment files, validated locally (no cluster, no Helm, no Docker):
#  - yamllint on every plain YAML file
#  - k8s/*.yaml against the Kubernetes API schemas (kubernetes-models), with
#    unknown fields rejected, and against the deployment policy (hardened
#    pods, secrets as files via *_FILE, backup volume, podFailurePolicy
#    matching src/exitcodes.h, AUZDB_SHARDS = completions)
#  - the Helm chart's values.schema.json (values.yaml and ci/*.yaml pass, bad
#    values fail), its templates' .Values references, env coverage and hooks
#  - docker-compose.yml against the compose-spec schema + the startup order
#  - .github/workflows/*.yml with GitHub's workflow parser + required jobs
#  - docker/Dockerfile's structure
# Each validator is also shown to reject a broken copy. `helm lint` and
# `helm template | kubeconform -strict` run in .github/workflows/ci.yml.
# Needs no database. Skips (77) without the tools from
# scripts/install-deploy-tools.sh.
set -uo pipefail
. "$(dirname "$0")/deploy/common.sh"
need yamllint
node_tools
cd "$DEPLOY_SRC" || exit 1

T_NAME=deploy_manifests
T_PASSED=0
T_TMP=$(mktemp -d "/tmp/auzdb-test-$T_NAME.XXXXXX")
trap 'rm -rf "$T_TMP"' EXIT
fail() { echo "FAIL [$T_NAME]: $*" >&2; [ -s "$T_TMP/out" ] && tail -n 40 "$T_TMP/out" >&2; echo "$T_PASSED passed, 1 failed"; exit 1; }
pass() { T_PASSED=$((T_PASSED + 1)); echo "ok $T_PASSED - $*"; }
V=(node tests/deploy/validate.mjs)
# ok_run CMD...: must exit 0; no_run PATTERN CMD...: must fail, printing PATTERN
ok_run() { "$@" >"$T_TMP/out" 2>&1 || fail "$* exited $?"; }
no_run() {
  local pat=$1; shift
  if "$@" >"$T_TMP/out" 2>&1; then fail "accepted a broken file: $*"; fi
  grep -qE -- "$pat" "$T_TMP/out" || fail "rejected, but without /$pat/: $*"
}
chart=k8s/helm/auzdb

# ---- YAML syntax and style
yaml_files=(k8s/*.yaml docker-compose.yml .github/workflows/*.yml "$chart"/Chart.yaml "$chart"/values.yaml
            "$chart"/ci/*.yaml k8s/helm/examples/*/Chart.yaml k8s/helm/examples/*/values.yaml)
ok_run yamllint -s -f parsable -c tests/deploy/yamllint.yaml "${yaml_files[@]}"
printf 'a: 1\na: 2\n' > "$T_TMP/dup.yaml"
no_run 'duplication of key' yamllint -f parsable -c tests/deploy/yamllint.yaml "$T_TMP/dup.yaml"
pass "yamllint: ${#yaml_files[@]} plain YAML files clean (Helm templates are checked in CI by helm lint)"

# ---- plain Kubernetes manifests
ok_run "${V[@]}" k8s src/exitcodes.h k8s/*.yaml
n=$(grep -c '^ok ' "$T_TMP/out")
[ "$n" -ge 7 ] || fail "expected at least 7 objects, validated $n"
for kind in Deployment/auzguard-app Job/auzdb-migrate Job/auzdb-migrate-sharded ConfigMap/auzdb-config Secret/auzdb-database; do
  grep -q "ok .* $kind\$" "$T_TMP/out" || fail "$kind was not validated"
done
pass "k8s/*.yaml: $n objects match the Kubernetes API schemas strictly and the deployment policy"

mut() { # mut NAME FILE SED-EXPR: a broken copy of FILE
  sed "$3" "$2" > "$T_TMP/$1.yaml"
  cmp -s "$2" "$T_TMP/$1.yaml" && fail "mutation $1 changed nothing"
  echo "$T_TMP/$1.yaml"
}
no_run 'unknown field "terminationMesagePolicy"' "${V[@]}" k8s src/exitcodes.h \
  "$(mut typo k8s/job-migrate.yaml 's/terminationMessagePolicy:/terminationMesagePolicy:/')"
no_run 'backoffLimit must be integer' "${V[@]}" k8s src/exitcodes.h \
  "$(mut type k8s/job-migrate.yaml 's/backoffLimit: 4/backoffLimit: four/')"
no_run 'restartPolicy must be equal to one of|restartPolicy' "${V[@]}" k8s src/exitcodes.h \
  "$(mut enum k8s/job-migrate.yaml 's/restartPolicy: Never/restartPolicy: Sometimes/')"
pass "the schema check rejects an unknown field, a wrong type and a bad enum value"

no_run 'readOnlyRootFilesystem must be true' "${V[@]}" k8s src/exitcodes.h \
  "$(mut rw k8s/deployment-app.yaml '0,/readOnlyRootFilesystem: true/s//readOnlyRootFilesystem: false/')"
no_run 'capabilities.drop must include ALL' "${V[@]}" k8s src/exitcodes.h \
  "$(mut caps k8s/job-migrate.yaml 's/drop: \["ALL"\]/drop: ["NET_RAW"]/')"
no_run 'seccompProfile' "${V[@]}" k8s src/exitcodes.h \
  "$(mut seccomp k8s/job-sharded.yaml 's/type: RuntimeDefault/type: Unconfined/')"
no_run 'allowPrivilegeEscalation must be false' "${V[@]}" k8s src/exitcodes.h \
  "$(mut esc k8s/job-migrate.yaml 's/allowPrivilegeEscalation: false/allowPrivilegeEscalation: true/')"
no_run 'FallbackToLogsOnError' "${V[@]}" k8s src/exitcodes.h \
  "$(mut tmp k8s/job-migrate.yaml 's/terminationMessagePolicy: FallbackToLogsOnError/terminationMessagePolicy: File/')"
no_run 'MASTER_DATABASE_URL in the environment' "${V[@]}" k8s src/exitcodes.h \
  "$(mut envurl k8s/job-migrate.yaml 's/name: MASTER_DATABASE_URL_FILE/name: MASTER_DATABASE_URL/')"
no_run 'not on a secret volume' "${V[@]}" k8s src/exitcodes.h \
  "$(mut notsecret k8s/job-migrate.yaml 's|value: /var/run/secrets/auzdb/master-url|value: /var/lib/auzdb/backups/master-url|')"
no_run 'AUZDB_BACKUP_DIR=/var/lib/auzdb/backups needs a writable' "${V[@]}" k8s src/exitcodes.h \
  "$(mut nobackup k8s/job-sharded.yaml 's|mountPath: /var/lib/auzdb/backups|mountPath: /var/lib/auzdb/other|')"
pass "the policy check rejects a writable root, kept capabilities, no seccomp, privilege escalation, File termination messages, a URL in the environment or outside a secret volume, and a backup dir without a volume"

no_run 'exit code 7 is fatal' "${V[@]}" k8s src/exitcodes.h \
  "$(mut fatal k8s/job-migrate.yaml 's/values: \[1, 2, 4, 7, 8, 9\]/values: [1, 2, 4, 8, 9]/')"
no_run 'exit code 5 is retryable.*has FailJob' "${V[@]}" k8s src/exitcodes.h \
  "$(mut retry k8s/job-migrate.yaml 's/values: \[1, 2, 4, 7, 8, 9\]/values: [1, 2, 4, 5, 7, 8, 9]/')"
no_run 'must Ignore DisruptionTarget' "${V[@]}" k8s src/exitcodes.h \
  "$(mut disrupt k8s/job-migrate.yaml 's/action: Ignore/action: Count/')"
no_run 'AUZDB_SHARDS=4 must equal completions=3' "${V[@]}" k8s src/exitcodes.h \
  "$(mut shards k8s/job-sharded.yaml 's/completions: 4/completions: 3/')"
no_run 'FailIndex needs an Indexed Job' "${V[@]}" k8s src/exitcodes.h \
  "$(mut failindex k8s/job-migrate.yaml 's/action: FailJob/action: FailIndex/')"
pass "podFailurePolicy: fatal codes must FailJob/FailIndex, retryable ones Count, disruptions Ignore (read from src/exitcodes.h); shards = completions"

# the exit-code contract the Jobs rely on, as src/exitcodes.h states it
retry_h=$(grep -E 'AZ_EXIT_\w+ = [0-9]+,.*retryable' src/exitcodes.h | sed -E 's/.*= ([0-9]+),.*/\1/' | sort -n | tr '\n' ' ')
[ "$retry_h" = "3 5 6 10 " ] || fail "src/exitcodes.h retryable codes changed ($retry_h): update k8s/, the chart and docs/deploy.md"
if [ -f README.md ] && grep -q '^| 3 |' README.md; then
  retry_readme=$(awk -F'|' '/^\| [0-9]+ \|/ { gsub(/ /, "", $2); gsub(/ /, "", $4); if ($4 == "yes") print $2 }' README.md | sort -n | tr '\n' ' ')
  [ -z "$retry_readme" ] || [ "$retry_readme" = "$retry_h" ] || fail "README retry column ($retry_readme) differs from src/exitcodes.h ($retry_h)"
fi
pass "retryable exit codes are 3 5 6 10 in src/exitcodes.h (and the README table)"

# ---- Helm chart (rendering needs Helm: CI)
ok_run "${V[@]}" schema "$chart/values.schema.json" "$chart/values.yaml"
ok_run "${V[@]}" schema "$chart/values.schema.json" --base "$chart/values.yaml" "$chart"/ci/*.yaml
node -e 'const fs = require("fs"), YAML = require("yaml");
  fs.writeFileSync(process.argv[2], YAML.stringify(YAML.parse(fs.readFileSync(process.argv[1], "utf8")).auzdb));' \
  k8s/helm/examples/auzguard-app/values.yaml "$T_TMP/app-auzdb.yaml" || fail "cannot read the example app's auzdb values"
ok_run "${V[@]}" schema "$chart/values.schema.json" --base "$chart/values.yaml" "$T_TMP/app-auzdb.yaml"
bad() { printf '%s\n' "$2" > "$T_TMP/v-$1.yaml"; echo "$T_TMP/v-$1.yaml"; }
no_run 'readOnlyRootFilesystem.*must be equal to constant' "${V[@]}" schema "$chart/values.schema.json" --base "$chart/values.yaml" \
  "$(bad rw $'securityContext:\n  readOnlyRootFilesystem: false')"
no_run 'must NOT have additional properties \(lockTimout\)' "${V[@]}" schema "$chart/values.schema.json" --base "$chart/values.yaml" \
  "$(bad typo $'config:\n  lockTimout: 5')"
no_run 'logFormat must be equal to one of' "${V[@]}" schema "$chart/values.schema.json" --base "$chart/values.yaml" \
  "$(bad enum $'config:\n  logFormat: xml')"
no_run 'concurrency must be >= 1' "${V[@]}" schema "$chart/values.schema.json" --base "$chart/values.yaml" \
  "$(bad min $'config:\n  concurrency: 0')"
no_run 'runAsNonRoot must be equal to constant' "${V[@]}" schema "$chart/values.schema.json" --base "$chart/values.yaml" \
  "$(bad root $'podSecurityContext:\n  runAsNonRoot: false')"
no_run 'extraEnv/0/name must NOT be valid' "${V[@]}" schema "$chart/values.schema.json" --base "$chart/values.yaml" \
  "$(bad envurl $'extraEnv:\n  - name: MASTER_DATABASE_URL\n    value: postgresql://x')"
pass "values.schema.json: values.yaml, ci/*.yaml and the example app's values pass; a writable root, typos, bad enums, ranges and a URL in extraEnv fail"

# every .Values path the templates use exists in values.yaml
node -e '
  const fs = require("fs"), YAML = require("yaml");
  const chart = process.argv[1], values = YAML.parse(fs.readFileSync(chart + "/values.yaml", "utf8"));
  const missing = new Set();
  for (const f of fs.readdirSync(chart + "/templates")) {
    const src = fs.readFileSync(chart + "/templates/" + f, "utf8").replace(/\{\{-? *\/\*[\s\S]*?\*\/ *-?\}\}/g, "");
    // .Values.a.b (.values.a.b in the snippet templates), and $c.x for $c := .Values.config
    const refs = [...src.matchAll(/\.[Vv]alues((?:\.[A-Za-z_]\w*)+)/g)].map((m) => m[1].slice(1).split("."));
    for (const m of src.matchAll(/\$c\.([A-Za-z_]\w*)/g)) refs.push(["config", m[1]]);
    for (const r of refs) {
      let v = values;
      for (const k of r) { if (v === null || typeof v !== "object" || !(k in v)) { missing.add(f + ": .Values." + r.join(".")); break; } v = v[k]; }
    }
  }
  for (const m of missing) console.log("missing " + m);
  process.exit(missing.size ? 1 : 0);' "$chart" >"$T_TMP/out" 2>&1 || fail "templates use values that values.yaml does not define"
pass "every .Values path in the chart's templates is defined in values.yaml"

# every environment variable auzdb reads is settable through the chart and documented
vars=$(grep -ohE '(getenv|envs|env_or_file|env_seconds)\("[A-Z_]+"' src/*.c | sed -E 's/.*\("//; s/"$//' | sort -u)
[ -n "$vars" ] || fail "no environment variables found in src/*.c"
for v in $vars; do
  case "$v" in
    PGDATABASE|PGPASSWORD) continue ;;             # libpq's own, through extraEnv / the URL
    MASTER_DATABASE_URL|DATABASE_URL) v=${v}_FILE ;; # only ever as a file
  esac
  grep -q "$v" "$chart"/templates/*.tpl "$chart"/templates/*.yaml || fail "the chart cannot set $v (src/ reads it)"
  grep -q "$v" docs/deploy.md || fail "docs/deploy.md does not mention $v"
done
pass "the chart sets, and docs/deploy.md documents, every variable src/ reads: $(echo $vars | wc -w) of them"

# hooks: Secret, ConfigMap and ServiceAccount at weight -10 before the Job at 0
grep -q 'helm.sh/hook-weight: "-10"' "$chart/templates/_helpers.tpl" || fail "no weight -10 hook helper"
for t in secret configmap serviceaccount; do
  grep -q 'include "auzdb.hookAnnotations"' "$chart/templates/$t.yaml" || fail "$t.yaml is not a hook resource"
done
grep -q 'helm.sh/hook: pre-install,pre-upgrade' "$chart/templates/job.yaml" || fail "the Job is not a pre-install,pre-upgrade hook"
grep -q 'helm.sh/hook-weight: "0"' "$chart/templates/job.yaml" || fail "the Job's hook weight is not 0"
grep -c 'before-hook-creation' "$chart/templates/_helpers.tpl" "$chart/templates/job.yaml" | grep -q ':0$' && fail "before-hook-creation missing"
grep -q 'define "auzdb.initContainer"' "$chart/templates/_initcontainer.tpl" || fail "no init-container snippet"
grep -q 'include "auzdb.initContainer"' k8s/helm/examples/*/templates/*.yaml || fail "the example app chart does not use the snippet"
pass "Helm hooks: Secret/ConfigMap/ServiceAccount weight -10, Job weight 0, before-hook-creation; init-container snippet used by the example app chart"

# ---- docker-compose.yml
ok_run "${V[@]}" compose docker-compose.yml
mkdir -p "$T_TMP/c"; ln -s "$DEPLOY_SRC/docker" "$T_TMP/c/docker"
sed 's/condition: service_completed_successfully/condition: service_started/' docker-compose.yml > "$T_TMP/c/order.yml"
no_run 'app must depend on auzdb with condition service_completed_successfully' "${V[@]}" compose "$T_TMP/c/order.yml"
sed '/^    healthcheck:/,/^      start_period/d' docker-compose.yml > "$T_TMP/c/nohc.yml"
no_run 'postgres needs a healthcheck' "${V[@]}" compose "$T_TMP/c/nohc.yml"
sed 's/    read_only: true/    readonly: true/' docker-compose.yml > "$T_TMP/c/key.yml"
no_run 'must NOT have additional properties \(readonly\)' "${V[@]}" compose "$T_TMP/c/key.yml"
pass "docker-compose.yml: compose-spec schema; postgres healthcheck -> auzdb (service_healthy, one-shot, hardened) -> app (service_completed_successfully)"

# ---- GitHub Actions
ok_run "${V[@]}" workflow .github/workflows/*.yml
wf=$(cat .github/workflows/*.yml)
for want in 'scripts/test.sh ${{ matrix.variant }}' 'variant: [dev, sanitize, static]' 'helm lint' \
            'kubeconform -strict' 'docker/build-push-action' 'docker/setup-buildx-action' 'file: docker/Dockerfile' \
            'scripts/install-deploy-tools.sh' 'registry: ghcr.io' 'push: true' 'tags: ["v*"]' \
            'softprops/action-gh-release' '.sha256'; do
  grep -qF -- "$want" <<<"$wf" || fail "the workflows do not contain: $want"
done
sed 's/    runs-on: ubuntu-latest/    runs_on: ubuntu-latest/' .github/workflows/ci.yml > "$T_TMP/w.yml"
no_run "Unexpected value 'runs_on'" "${V[@]}" workflow "$T_TMP/w.yml"
pass "workflows parse with GitHub's workflow parser; they build dev/sanitize/static, run helm lint + kubeconform, build with buildx; tags push to GHCR and attach the static binary + sha256"

# ---- Dockerfile
df=docker/Dockerfile
grep -qE '^FROM alpine:\$\{ALPINE_VERSION\} AS build$' "$df" || fail "no Alpine builder stage"
[ "$(grep -E '^FROM ' "$df" | tail -n1)" = "FROM scratch" ] || fail "the final stage is not FROM scratch"
for p in libpq openssl-libs-static zlib-static build-base; do
  case $p in libpq) grep -q 'src/interfaces/libpq all-static-lib' "$df" || fail "libpq is not built static" ;;
    *) grep -q -- "$p" "$df" || fail "$df does not install $p" ;; esac
done
grep -qE '^ARG PG_SHA256=[0-9a-f]{64}$' "$df" || fail "the PostgreSQL tarball is not pinned by sha256"
grep -q 'sha256sum -c' "$df" || fail "the tarball checksum is not checked"
grep -qx 'USER 65532:65532' "$df" || fail "USER is not 65532"
grep -qx 'ENTRYPOINT \["/auzdb"\]' "$df" || fail "ENTRYPOINT is not the binary"
grep -qx 'CMD \["run"\]' "$df" || fail "default command is not run"
grep -qx 'VOLUME \["/var/lib/auzdb/backups"\]' "$df" || fail "no backup volume"
grep -qx 'ENV PGSSLROOTCERT=/etc/ssl/certs/ca-certificates.crt' "$df" || fail "PGSSLROOTCERT does not point at the CA bundle"
grep -qx 'ENV AUZDB_BACKUP_DIR=/var/lib/auzdb/backups' "$df" || fail "AUZDB_BACKUP_DIR is not the backup volume"
grep -q '^auzdb:x:65532:65532:' docker/rootfs/etc/passwd || fail "no passwd entry for 65532"
grep -q '^auzdb:x:65532:' docker/rootfs/etc/group || fail "no group entry for 65532"
pass "docker/Dockerfile: Alpine builder (static libpq 15 from a pinned tarball, static OpenSSL/zlib), FROM scratch, USER 65532, ENTRYPOINT /auzdb, CMD run, backup VOLUME"

echo "$T_PASSED passed, 0 failed"
