{{/*
Shared template pieces. The Deployment and the migrations Job share the hardened security
contexts, the /tmp volume and the way secret env vars are referenced, so the two cannot drift.
*/}}

{{/* Chart name, overridable with nameOverride. */}}
{{- define "mm.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name used as the prefix of every resource: fullnameOverride, or "<release>-<chart>", or just
"<release>" when it already contains the chart name. Truncated to 63 characters (DNS label).
*/}}
{{- define "mm.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* "name-version" for the helm.sh/chart label. */}}
{{- define "mm.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels that select this release's pods. Never change them: selectors are immutable. */}}
{{- define "mm.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mm.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "mm.labels" -}}
helm.sh/chart: {{ include "mm.chart" . }}
{{ include "mm.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: membership-mirror
{{- end }}

{{/* ServiceAccount the pods run as. */}}
{{- define "mm.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "mm.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Image reference; the tag defaults to the chart's appVersion. */}}
{{- define "mm.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion | toString) }}
{{- end }}

{{/* Name of the development Secret (devSecret.create). */}}
{{- define "mm.devSecretName" -}}
{{- printf "%s-dev" (include "mm.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Name of the Secret holding one secrets.<entry>. Call with (dict "root" $ "entry" "database").
Order: the entry's existingSecret, secrets.existingSecret, the dev Secret when devSecret.create,
else "<fullname>" (a Secret the operator is expected to create; see NOTES.txt).
*/}}
{{- define "mm.secretName" -}}
{{- $values := .root.Values }}
{{- $entry := index $values.secrets .entry }}
{{- if $entry.existingSecret }}
{{- $entry.existingSecret }}
{{- else if $values.secrets.existingSecret }}
{{- $values.secrets.existingSecret }}
{{- else if $values.devSecret.create }}
{{- include "mm.devSecretName" .root }}
{{- else }}
{{- include "mm.fullname" .root }}
{{- end }}
{{- end }}

{{/*
Which secrets.<entry> the pods use, in order, with the environment variable each one sets and the
devSecret value that feeds it in development. The callers file is mounted, not put in the
environment, so it has no env name here.
*/}}
{{- define "mm.secretEntries" -}}
- entry: database
  env: MM_DATABASE_URL
  devValue: databaseUrl
{{- if .Values.secrets.huudis.enabled }}
- entry: huudis
  env: MM_HUUDIS_SECRETS
  devValue: huudisSecrets
{{- end }}
{{- if .Values.secrets.fusionauthHmac.enabled }}
- entry: fusionauthHmac
  env: MM_FUSIONAUTH_HMAC_SECRETS
  devValue: fusionauthHmacSecrets
{{- end }}
{{- if not .Values.config.insecureNoAuth }}
- entry: callers
  env: ""
  devValue: callers
{{- end }}
{{- end }}

{{/*
One EnvVar that reads a secrets.<entry> through secretKeyRef, so the value never appears in a
manifest. Call with (dict "root" $ "entry" "database" "env" "MM_DATABASE_URL").
*/}}
{{- define "mm.secretEnvVar" -}}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      name: {{ include "mm.secretName" . }}
      key: {{ (index .root.Values.secrets .entry).key }}
{{- end }}

{{/* Pod-level security context shared by the server and the migrations Job. */}}
{{- define "mm.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
fsGroup: {{ .Values.securityContext.runAsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/*
Container-level security context: non-root, nothing writable but /tmp, no privilege escalation,
no Linux capabilities (the ports are above 1024), the runtime's default seccomp filter.
*/}}
{{- define "mm.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
privileged: false
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* The only writable path: an emptyDir at /tmp (volume and mount). */}}
{{- define "mm.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- end }}
{{- define "mm.tmpVolumeMount" -}}
- name: tmp
  mountPath: /tmp
{{- end }}

{{/*
TLS listeners that are enabled, as a YAML list of {name, upper, secret, certKey, keyKey, caSecret,
caKey}. caSecret is empty when no client CA (mTLS) is configured. Fails early on a missing Secret
name, instead of leaving pods stuck in ContainerCreating.
*/}}
{{- define "mm.tlsListeners" -}}
{{- range $name := list "grpc" "http" }}
{{- $tls := index $.Values.tls $name }}
{{- if $tls.enabled }}
- name: {{ $name }}
  upper: {{ upper $name }}
  secret: {{ required (printf "tls.%s.existingSecret is required when tls.%s.enabled" $name $name) $tls.existingSecret }}
  certKey: {{ $tls.certKey }}
  keyKey: {{ $tls.keyKey }}
  caSecret: {{ if $tls.clientCA.enabled }}{{ default $tls.existingSecret $tls.clientCA.existingSecret }}{{ end }}
  caKey: {{ $tls.clientCA.key }}
{{- end }}
{{- end }}
{{- end }}

{{/* Where mounted files live in the container. */}}
{{- define "mm.callersFile" -}}/etc/membership-mirror/callers/callers.json{{- end }}
{{- define "mm.fusionauthKeysFile" -}}/etc/membership-mirror/fusionauth/public-keys.json{{- end }}

{{/* Name of the ConfigMap holding the FusionAuth public keys. */}}
{{- define "mm.fusionauthKeysConfigMap" -}}
{{- default (printf "%s-fusionauth-keys" (include "mm.fullname" .)) .Values.fusionauthPublicKeys.existingConfigMap }}
{{- end }}
