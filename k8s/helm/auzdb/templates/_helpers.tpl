{{/* Names ------------------------------------------------------------- */}}
{{- define "auzdb.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "auzdb.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "auzdb.labels" -}}
app.kubernetes.io/name: {{ include "auzdb.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | default "unknown" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service | default "Helm" }}
app.kubernetes.io/component: migration
{{- end -}}

{{- define "auzdb.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "auzdb.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "auzdb.secretName" -}}
{{- default (printf "%s-database" (include "auzdb.fullname" .)) .Values.database.existingSecret -}}
{{- end -}}

{{- define "auzdb.configMapName" -}}
{{- printf "%s-config" (include "auzdb.fullname" .) -}}
{{- end -}}

{{- define "auzdb.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (required "image.tag (or the chart's appVersion) is required" $tag) -}}
{{- end -}}
{{- end -}}

{{/* Hook annotations for the resources the hook Job needs: created first. */}}
{{- define "auzdb.hookAnnotations" -}}
{{- if .Values.job.hook -}}
helm.sh/hook: pre-install,pre-upgrade
helm.sh/hook-weight: "-10"
helm.sh/hook-delete-policy: before-hook-creation
{{- end -}}
{{- end -}}

{{/*
auzdb's non-secret settings as NAME: "value" lines, one per environment
variable that differs from auzdb's own default handling (empty values are
left out). The ConfigMap holds them; the init-container snippet sets them
inline.
*/}}
{{- define "auzdb.settings" -}}
{{- $c := .Values.config -}}
{{- with $c.migrationsDir }}
AUZDB_MIGRATIONS_DIR: {{ . | quote }}
{{- end }}
{{- with $c.masterMigrationsDir }}
AUZDB_MASTER_MIGRATIONS_DIR: {{ . | quote }}
{{- end }}
{{- with $c.tenantMigrationsDir }}
AUZDB_TENANT_MIGRATIONS_DIR: {{ . | quote }}
{{- end }}
AUZDB_LOCK_TIMEOUT: {{ $c.lockTimeout | int | toString | quote }}
AUZDB_WAIT_TIMEOUT: {{ $c.waitTimeout | int | toString | quote }}
AUZDB_CONNECT_TIMEOUT: {{ $c.connectTimeout | int | toString | quote }}
AUZDB_LOG_FORMAT: {{ $c.logFormat | quote }}
{{- with $c.tenants }}
AUZDB_TENANTS: {{ join "," . | quote }}
{{- end }}
{{- with $c.tenantQuery }}
AUZDB_TENANT_QUERY: {{ . | quote }}
{{- end }}
AUZDB_TENANT_DB_PREFIX: {{ $c.tenantDbPrefix | quote }}
{{- if and $c.tenantUrlTemplate (not $c.tenantUrlTemplateSecret.name) }}
AUZDB_TENANT_URL_TEMPLATE: {{ $c.tenantUrlTemplate | quote }}
{{- end }}
AUZDB_CONCURRENCY: {{ $c.concurrency | int | toString | quote }}
{{- if $c.failFast }}
AUZDB_FAIL_FAST: "1"
{{- end }}
{{- with $c.reportFile }}
AUZDB_REPORT_FILE: {{ . | quote }}
{{- end }}
{{- with $c.terminationLog }}
AUZDB_TERMINATION_LOG: {{ . | quote }}
{{- end }}
{{- if .Values.database.tls.caSecret }}
PGSSLROOTCERT: {{ printf "/var/run/secrets/auzdb-ca/%s" .Values.database.tls.caKey | quote }}
{{- else if $c.pgSslRootCert }}
PGSSLROOTCERT: {{ $c.pgSslRootCert | quote }}
{{- end }}
{{- with $c.statementTimeout }}
AUZDB_STATEMENT_TIMEOUT: {{ . | quote }}
{{- end }}
{{- with $c.ddlLockTimeout }}
AUZDB_DDL_LOCK_TIMEOUT: {{ . | quote }}
{{- end }}
{{- with $c.deadline }}
AUZDB_DEADLINE: {{ . | quote }}
{{- end }}
{{- if $c.autoAdopt }}
AUZDB_AUTO_ADOPT: "1"
{{- end }}
{{- with $c.allowReset }}
AUZDB_ALLOW_RESET: {{ . | quote }}
{{- end }}
AUZDB_BACKUP: {{ .Values.backup.mode | quote }}
{{- if ne .Values.backup.mode "never" }}
AUZDB_BACKUP_DIR: {{ .Values.backup.dir | quote }}
AUZDB_BACKUP_KEEP: {{ .Values.backup.keep | int | toString | quote }}
AUZDB_BACKUP_COMPRESSION: {{ .Values.backup.compression | int | toString | quote }}
{{- if .Values.backup.owners }}
AUZDB_BACKUP_OWNERS: "1"
{{- end }}
{{- end }}
{{- end -}}

{{/* Environment entries every auzdb container gets besides the settings. */}}
{{- define "auzdb.secretEnv" -}}
- name: MASTER_DATABASE_URL_FILE
  value: {{ printf "/var/run/secrets/auzdb/%s" .Values.database.urlKey | quote }}
{{- with .Values.config.shadowDatabaseUrlSecret }}
{{- if .name }}
- name: AUZDB_SHADOW_DATABASE_URL_FILE
  value: {{ printf "/var/run/secrets/auzdb-shadow/%s" (required "config.shadowDatabaseUrlSecret.key is required" .key) | quote }}
{{- end }}
{{- end }}
{{- with .Values.config.tenantUrlTemplateSecret }}
{{- if .name }}
- name: AUZDB_TENANT_URL_TEMPLATE
  valueFrom:
    secretKeyRef:
      name: {{ .name | quote }}
      key: {{ required "config.tenantUrlTemplateSecret.key is required" .key | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "auzdb.volumeMounts" -}}
- name: auzdb-database
  mountPath: /var/run/secrets/auzdb
  readOnly: true
{{- if .Values.database.tls.caSecret }}
- name: auzdb-ca
  mountPath: /var/run/secrets/auzdb-ca
  readOnly: true
{{- end }}
{{- if .Values.config.shadowDatabaseUrlSecret.name }}
- name: auzdb-shadow
  mountPath: /var/run/secrets/auzdb-shadow
  readOnly: true
{{- end }}
{{- if ne .Values.backup.mode "never" }}
- name: auzdb-backups
  mountPath: {{ .Values.backup.dir | quote }}
{{- end }}
{{- end -}}

{{/* Volumes; "claim" false forces an emptyDir for backups (init containers). */}}
{{- define "auzdb.volumes" -}}
{{- $ctx := .ctx -}}
- name: auzdb-database
  secret:
    secretName: {{ include "auzdb.secretName" $ctx | quote }}
    defaultMode: 288  # 0440: group fsGroup may read
{{- if $ctx.Values.database.tls.caSecret }}
- name: auzdb-ca
  secret:
    secretName: {{ $ctx.Values.database.tls.caSecret | quote }}
    defaultMode: 292  # 0444
{{- end }}
{{- if $ctx.Values.config.shadowDatabaseUrlSecret.name }}
- name: auzdb-shadow
  secret:
    secretName: {{ $ctx.Values.config.shadowDatabaseUrlSecret.name | quote }}
    defaultMode: 288  # 0440
{{- end }}
{{- if ne $ctx.Values.backup.mode "never" }}
- name: auzdb-backups
{{- if and .claim $ctx.Values.backup.existingClaim }}
  persistentVolumeClaim:
    claimName: {{ $ctx.Values.backup.existingClaim | quote }}
{{- else }}
  emptyDir:
    sizeLimit: {{ $ctx.Values.backup.sizeLimit | quote }}
{{- end }}
{{- end }}
{{- end -}}
