{{/*
Optional init-container snippet for the application's chart. With auzdb as a
dependency of the app chart (values under `auzdb:`), its Deployment adds:

  initContainers:
    {{- include "auzdb.initContainer" (dict "root" . "values" .Values.auzdb) | nindent 4 }}
  volumes:
    {{- include "auzdb.initContainerVolumes" (dict "root" . "values" .Values.auzdb) | nindent 4 }}

The pod then needs the same hardened pod securityContext as the Job
(runAsNonRoot, fsGroup 65532 so the secret file is readable, RuntimeDefault
seccomp). Every setting is inline, so the snippet does not depend on this
chart's ConfigMap; it reads the same database Secret as a file.
*/}}
{{- define "auzdb.initContainer" -}}
{{- $ctx := dict "Values" .values "Release" .root.Release "Chart" (dict "Name" "auzdb" "AppVersion" "") -}}
- name: auzdb
  image: {{ include "auzdb.image" $ctx | quote }}
  imagePullPolicy: {{ .values.image.pullPolicy }}
  args:
    - {{ .values.initContainer.command | quote }}
  env:
    {{- include "auzdb.secretEnv" $ctx | nindent 4 }}
    {{- range $k, $v := include "auzdb.settings" $ctx | trim | fromYaml }}
    - name: {{ $k }}
      value: {{ $v | quote }}
    {{- end }}
    {{- with .values.extraEnv }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  securityContext:
    {{- toYaml .values.securityContext | nindent 4 }}
  terminationMessagePath: /dev/termination-log
  terminationMessagePolicy: FallbackToLogsOnError
  resources:
    {{- toYaml .values.initContainer.resources | nindent 4 }}
  volumeMounts:
    {{- include "auzdb.volumeMounts" $ctx | nindent 4 }}
{{- end -}}

{{- define "auzdb.initContainerVolumes" -}}
{{- $ctx := dict "Values" .values "Release" .root.Release "Chart" (dict "Name" "auzdb" "AppVersion" "") -}}
{{- include "auzdb.volumes" (dict "ctx" $ctx "claim" false) -}}
{{- end -}}
