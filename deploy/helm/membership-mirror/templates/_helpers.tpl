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
The {existingSecret, key} reference of one secret, as YAML (read it with fromYaml): secrets.<entry>
when called with (dict "root" $ "entry" "database"), or the reference at any path of the values
with (dict "root" $ "ref" "sources.huudis.credential").
*/}}
{{- define "mm.secretRef" -}}
{{- $ref := index . "ref" | default (printf "secrets.%s" (index . "entry")) }}
{{- $value := .root.Values }}
{{- range splitList "." $ref }}
{{- $value = index ($value | default dict) . }}
{{- end }}
{{- toYaml ($value | default dict) }}
{{- end }}

{{/*
Name of the Secret holding one secret reference (see mm.secretRef for the arguments).
Order: the reference's existingSecret, secrets.existingSecret, the dev Secret when
devSecret.create, else "<fullname>" (a Secret the operator is expected to create; see NOTES.txt).
*/}}
{{- define "mm.secretName" -}}
{{- $values := .root.Values }}
{{- $entry := include "mm.secretRef" . | fromYaml }}
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
Every secret the pods use, in order: ref is where its {existingSecret, key} reference is in the
values; env the environment variable it sets through secretKeyRef, or else fileEnv the variable
that points at the file it is mounted as (file, from the Secret volume named volume); devValue the
devSecret value that feeds it in development. The FusionAuth webhook's Basic credentials and the
enabled pull sources' credentials are files. Only the server uses this list: the migrations Job
needs MM_DATABASE_URL alone (it works through a transaction pooler too).
*/}}
{{- define "mm.secretEntries" -}}
- ref: secrets.database
  env: MM_DATABASE_URL
  devValue: databaseUrl
{{- if .Values.secrets.databaseListen.enabled }}
- ref: secrets.databaseListen
  env: MM_DATABASE_LISTEN_URL
  devValue: databaseListenUrl
{{- end }}
{{- if .Values.secrets.databaseRead.enabled }}
- ref: secrets.databaseRead
  env: MM_DATABASE_READ_URL
  devValue: databaseReadUrl
{{- end }}
{{- if .Values.secrets.huudis.enabled }}
- ref: secrets.huudis
  env: MM_HUUDIS_SECRETS
  devValue: huudisSecrets
{{- end }}
{{- if .Values.secrets.fusionauthHmac.enabled }}
- ref: secrets.fusionauthHmac
  env: MM_FUSIONAUTH_HMAC_SECRETS
  devValue: fusionauthHmacSecrets
{{- end }}
{{- if .Values.secrets.fusionauthBasicAuth.enabled }}
- ref: secrets.fusionauthBasicAuth
  fileEnv: MM_FUSIONAUTH_BASIC_AUTH_FILE
  file: {{ include "mm.fusionauthBasicAuthFile" . }}
  volume: fusionauth-basic-auth
  devValue: fusionauthBasicAuth
{{- end }}
{{- if not .Values.config.insecureNoAuth }}
- ref: secrets.callers
  fileEnv: MM_CALLERS_FILE
  file: {{ include "mm.callersFile" . }}
  volume: callers
  devValue: callers
{{- end }}
{{- range $source := include "mm.sources" . | fromYamlArray }}
- ref: sources.{{ $source.name }}.credential
  fileEnv: {{ $source.fileEnv }}
  file: {{ $source.file }}
  volume: source-{{ $source.name }}
  devValue: {{ $source.devValue }}
{{- end }}
{{- end }}

{{/*
One EnvVar that reads a secret through secretKeyRef, so the value never appears in a manifest.
Call with (dict "root" $ "entry" "database" "env" "MM_DATABASE_URL"), or "ref" instead of "entry".
*/}}
{{- define "mm.secretEnvVar" -}}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      name: {{ include "mm.secretName" . }}
      key: {{ (include "mm.secretRef" . | fromYaml).key }}
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
{{- define "mm.fusionauthBasicAuthFile" -}}/etc/membership-mirror/fusionauth-webhook/basic-auth{{- end }}

{{/* Name of the ConfigMap holding the FusionAuth public keys. */}}
{{- define "mm.fusionauthKeysConfigMap" -}}
{{- default (printf "%s-fusionauth-keys" (include "mm.fullname" .)) .Values.fusionauthPublicKeys.existingConfigMap }}
{{- end }}

{{/*
The enabled pull sources (sources.huudis, sources.monocloud, sources.fusionauth), as a YAML list of
{name, url, scheme, port, fileEnv, file, devValue}: url without a trailing slash, port the TCP port
the url names or its scheme's default (for the NetworkPolicy), file where the credential is mounted
and fileEnv the variable that points at it. Fails rendering when an enabled source lacks its url
or credential, so a half-configured source never reaches the cluster.
*/}}
{{- define "mm.sources" -}}
{{- $meta := dict
  "huudis" (dict "fileEnv" "MM_HUUDIS_API_TOKEN_FILE" "file" "api-token" "devValue" "huudisApiToken" "what" "the Huudis admin bearer token")
  "monocloud" (dict "fileEnv" "MM_MONOCLOUD_API_KEY_FILE" "file" "api-key" "devValue" "monocloudApiKey" "what" "the MonoCloud API key")
  "fusionauth" (dict "fileEnv" "MM_FUSIONAUTH_API_KEY_FILE" "file" "api-key" "devValue" "fusionauthApiKey" "what" "the FusionAuth API key") }}
{{- range $name := list "huudis" "monocloud" "fusionauth" }}
{{- $source := index $.Values.sources $name | default dict }}
{{- $m := index $meta $name }}
{{- if $source.enabled }}
{{- $url := required (printf "sources.%s.url is required when sources.%s.enabled (e.g. https://...)" $name $name) (index $source "url") | trimSuffix "/" }}
{{- $credential := index $source "credential" | default dict }}
{{- $_ := required (printf "sources.%s.credential.key is required when sources.%s.enabled: the key of %s in the Secret sources.%s.credential.existingSecret (or secrets.existingSecret)" $name $name $m.what $name) (index $credential "key") }}
{{- $parsed := urlParse $url }}
{{- if not (has $parsed.scheme (list "https" "http")) }}
{{- fail (printf "sources.%s.url must start with https:// (or http://), not %q" $name $url) }}
{{- end }}
{{- if or $parsed.userinfo $parsed.query $parsed.fragment }}
{{- fail (printf "sources.%s.url must not carry user-info, a query or a fragment: it is rendered into a ConfigMap, and the credential belongs in sources.%s.credential" $name $name) }}
{{- end }}
{{- $port := regexFind ":[0-9]+$" $parsed.host | trimPrefix ":" | default (ternary "443" "80" (eq $parsed.scheme "https")) | atoi }}
{{- if or (lt $port 1) (gt $port 65535) }}
{{- fail (printf "sources.%s.url names port %d, outside 1-65535" $name $port) }}
{{- end }}
- name: {{ $name }}
  url: {{ $url | toJson }}
  scheme: {{ $parsed.scheme }}
  port: {{ $port }}
  fileEnv: {{ $m.fileEnv }}
  file: /etc/membership-mirror/sources/{{ $name }}/{{ $m.file }}
  devValue: {{ $m.devValue }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The sources' CA bundle (sources.caBundle) when it is enabled and at least one source is, as YAML
{kind: secret|configMap, name, key, created}; empty otherwise. created: the chart makes the
ConfigMap from sources.caBundle.content.
*/}}
{{- define "mm.sourceCA" -}}
{{- $ca := .Values.sources.caBundle }}
{{- if and $ca.enabled (include "mm.sources" . | fromYamlArray) }}
{{- if and $ca.existingConfigMap $ca.existingSecret }}
{{- fail "sources.caBundle: set existingConfigMap or existingSecret, not both" }}
{{- end }}
{{- if $ca.existingSecret }}
kind: secret
name: {{ $ca.existingSecret }}
created: false
{{- else }}
kind: configMap
name: {{ default (printf "%s-source-ca" (include "mm.fullname" .)) $ca.existingConfigMap }}
created: {{ not $ca.existingConfigMap }}
{{- end }}
key: {{ $ca.key }}
{{- end }}
{{- end }}
{{- define "mm.sourceCAFile" -}}/etc/membership-mirror/sources/ca/ca.crt{{- end }}
