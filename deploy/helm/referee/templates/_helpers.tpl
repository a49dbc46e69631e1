{{/* Names and labels. */}}
{{- define "referee.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "referee.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "referee.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "referee.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one component: include with (list $ "api"). */}}
{{- define "referee.selector" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "referee.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "referee.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "referee.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "referee.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | toString) -}}
{{- end -}}

{{/* REFEREE_SANDBOX for each documented isolation mode. */}}
{{- define "referee.sandboxBackend" -}}
{{- $modes := dict "disabled" "none" "gvisor" "local-unsafe" "bwrap" "bwrap" -}}
{{- required "sandbox.mode must be disabled, gvisor or bwrap" (get $modes .Values.sandbox.mode) -}}
{{- end -}}

{{/* The Redis URL as an env entry: from a Secret, or built from values. */}}
{{- define "referee.redisEnv" -}}
{{- if .Values.redis.enabled }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "referee.redisAuthSecret" . }}
      key: password
{{- end }}
- name: REFEREE_REDIS_URL
{{- if .Values.redis.enabled }}
  value: {{ printf "redis://:$(REDIS_PASSWORD)@%s-redis:%d/0" (include "referee.fullname" .) (int .Values.redis.port) | quote }}
{{- else if .Values.redis.existingSecret }}
  valueFrom:
    secretKeyRef:
      name: {{ .Values.redis.existingSecret }}
      key: {{ .Values.redis.existingSecretKey }}
{{- else }}
  value: {{ required "redis.externalUrl (or redis.existingSecret) is needed when redis.enabled is false" .Values.redis.externalUrl | quote }}
{{- end }}
{{- end -}}

{{- define "referee.apiKeySecretName" -}}
{{- default (printf "%s-api-keys" (include "referee.fullname" .)) .Values.apiKeys.existingSecret -}}
{{- end -}}

{{/* Keys are required unless api.insecure: without hashes in values, the Secret
(apiKeys.existingSecret, or <fullname>-api-keys) must be made by the operator. */}}
{{- define "referee.hasApiKeys" -}}
{{- if not .Values.api.insecure }}true{{ end -}}
{{- end -}}

{{/* The pod-level securityContext; bwrap workers need root to start jails (setpriv). */}}
{{- define "referee.podSecurityContext" -}}
{{- $root := index . 0 -}}
{{- $component := index . 1 -}}
{{- if and (eq $component "worker") (eq $root.Values.sandbox.mode "bwrap") -}}
runAsNonRoot: false
runAsUser: 0
runAsGroup: 0
fsGroup: {{ $root.Values.podSecurityContext.fsGroup }}
seccompProfile:
  type: Unconfined
{{- else -}}
{{ toYaml $root.Values.podSecurityContext }}
{{- end -}}
{{- end -}}

{{- define "referee.containerSecurityContext" -}}
{{- $root := index . 0 -}}
{{- $component := index . 1 -}}
{{- if and (eq $component "worker") (eq $root.Values.sandbox.mode "bwrap") -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
  add: [SETUID, SETGID]
seccompProfile:
  type: Unconfined
appArmorProfile:
  type: Unconfined
# bwrap mounts a fresh /proc in its pid namespace: the kernel refuses while parts of
# the container's /proc are masked.
procMount: Unmasked
{{- else -}}
{{ toYaml $root.Values.containerSecurityContext }}
{{- end -}}
{{- end -}}

{{/* The egress rule to Redis: the in-chart pods, or networkPolicy.externalRedisTo. */}}
{{- define "referee.redisEgress" -}}
{{- if .Values.redis.enabled -}}
- to:
    - podSelector:
        matchLabels:
          {{- include "referee.selector" (list . "redis") | nindent 10 }}
  ports:
    - port: {{ .Values.redis.port }}
      protocol: TCP
{{- else -}}
- ports:
    - port: {{ .Values.redis.port }}
      protocol: TCP
  {{- with .Values.networkPolicy.externalRedisTo }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}
{{- end -}}

{{/* The in-chart Redis's password: whoever can write to Redis can forge verdicts, so
it has one even behind the NetworkPolicy. */}}
{{- define "referee.redisAuthSecret" -}}
{{- default (printf "%s-redis-auth" (include "referee.fullname" .)) .Values.redis.auth.existingSecret -}}
{{- end -}}
