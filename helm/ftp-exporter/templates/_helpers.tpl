{{/*
Names. Kubernetes names and label values are at most 63 characters (DNS
labels); names with a suffix are cut before the suffix so that the suffix
survives, and a StatefulSet's name is cut to 52 so that its pods'
controller-revision-hash label (name + "-" + 10 characters) still fits.
*/}}
{{- define "ftp-exporter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ftp-exporter.fullname" -}}
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

{{/* The full name with a suffix: (dict "ctx" . "suffix" "web") */}}
{{- define "ftp-exporter.suffixed" -}}
{{- $base := include "ftp-exporter.fullname" .ctx | trunc (int (sub 62 (len .suffix))) | trimSuffix "-" }}
{{- printf "%s-%s" $base .suffix }}
{{- end }}

{{- define "ftp-exporter.statefulsetName" -}}
{{- include "ftp-exporter.fullname" . | trunc 52 | trimSuffix "-" }}
{{- end }}

{{- define "ftp-exporter.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride }}
{{- end }}

{{- define "ftp-exporter.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels. The pod template carries only the selector labels, the app version
and the user's: never helm.sh/chart, so that a new chart version alone does
not restart the pods.
*/}}
{{- define "ftp-exporter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ftp-exporter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ftp-exporter.labels" -}}
helm.sh/chart: {{ include "ftp-exporter.chart" . }}
{{ include "ftp-exporter.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ftp-exporter
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "ftp-exporter.podLabels" -}}
{{ include "ftp-exporter.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | trunc 63 | quote }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- with .Values.podLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "ftp-exporter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ftp-exporter.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "ftp-exporter.image" -}}
{{- $repo := .Values.image.repository }}
{{- if .Values.image.registry }}
{{- $repo = printf "%s/%s" .Values.image.registry .Values.image.repository }}
{{- end }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repo .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repo (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "ftp-exporter.kubeVersion" -}}
{{- default .Capabilities.KubeVersion.Version .Values.kubeVersionOverride }}
{{- end }}

{{/* ------------------------------------------------------------ config */}}

{{- define "ftp-exporter.configMapName" -}}
{{- default (include "ftp-exporter.fullname" .) .Values.existingConfigMap }}
{{- end }}

{{- define "ftp-exporter.secretName" -}}
{{- default (include "ftp-exporter.fullname" .) .Values.existingSecret }}
{{- end }}

{{/* Whether passwords come from a Secret: "true" or "". */}}
{{- define "ftp-exporter.hasSecret" -}}
{{- if or .Values.existingSecret .Values.secret.passwords }}true{{ end }}
{{- end }}

{{/*
Whether any target is checked in active mode: "true" or "". Targets without
`modes` take the defaults', and the exporter's default is both modes.
*/}}
{{- define "ftp-exporter.activeUsed" -}}
{{- $defaults := .Values.config.defaults | default dict }}
{{- $defaultModes := $defaults.modes | default (list "passive" "active") }}
{{- $used := false }}
{{- range .Values.config.targets | default list }}
{{- if has "active" (.modes | default $defaultModes) }}{{ $used = true }}{{ end }}
{{- end }}
{{- if $used }}true{{ end }}
{{- end }}

{{/* The active-mode port range in effect: the config's, else active.portRange. */}}
{{- define "ftp-exporter.activePortRange" -}}
{{- $defaults := .Values.config.defaults | default dict }}
{{- $active := $defaults.active | default dict }}
{{- default .Values.active.portRange $active.port_range }}
{{- end }}

{{/*
The configuration file. Passwords in clear are refused: a ConfigMap is not a
Secret. The active-mode values are written into `defaults.active`, so the
exporter, the NetworkPolicy and the host-network set-up agree on them.
*/}}
{{- define "ftp-exporter.config" -}}
{{- $config := deepCopy (.Values.config | default dict) }}
{{- $inline := list }}
{{- range $i, $t := $config.targets | default list }}
{{- if hasKey $t "password" }}{{ $inline = append $inline (printf "config.targets[%d] (%s)" $i ($t.name | default "?")) }}{{ end }}
{{- end }}
{{- range $name, $m := $config.modules | default dict }}
{{- if hasKey $m "password" }}{{ $inline = append $inline (printf "config.modules.%s" $name) }}{{ end }}
{{- end }}
{{- if hasKey ($config.defaults | default dict) "password" }}{{ $inline = append $inline "config.defaults" }}{{ end }}
{{- if $inline }}
{{- fail (printf "%s: `password` would be written in clear into a ConfigMap; put it in secret.passwords (or existingSecret) and use password_file: /etc/ftp_exporter/secrets/<key>, or password_env with passwordEnv" (join ", " $inline)) }}
{{- end }}
{{- if include "ftp-exporter.activeUsed" . }}
{{- $defaults := $config.defaults | default dict }}
{{- $active := $defaults.active | default dict }}
{{- $_ := set $active "port_range" (include "ftp-exporter.activePortRange" .) }}
{{- if .Values.active.advertiseAddress }}
{{- $_ := set $active "advertise_address" .Values.active.advertiseAddress }}
{{- end }}
{{- $_ := set $defaults "active" $active }}
{{- $_ := set $config "defaults" $defaults }}
{{- end }}
{{- toYaml $config }}
{{- end }}

{{/*
The pod annotation that rolls the pods when the configuration changes:
computed from the values (config, passwords, web config), not from rendered
templates, so a chart version bump alone changes nothing. With the
reloader the files change in place and the exporter reloads instead.
*/}}
{{- define "ftp-exporter.checksum" -}}
{{- if not .Values.reloader.enabled -}}
checksum/config: {{ list (include "ftp-exporter.config" .) .Values.existingConfigMap .Values.secret.passwords .Values.existingSecret .Values.web.config | toJson | sha256sum }}
{{- end }}
{{- end }}

{{/* ------------------------------------------------------------ container */}}

{{- define "ftp-exporter.portName" -}}
{{- if eq .Values.mode "sidecar" }}{{ .Values.sidecar.portName }}{{ else }}http-metrics{{ end }}
{{- end }}

{{/* Volume names, prefixed so that they cannot clash with a parent pod's. */}}
{{- define "ftp-exporter.volumeNames" -}}
config: ftp-exporter-config
secrets: ftp-exporter-secrets
web: ftp-exporter-web
tls: ftp-exporter-tls
{{- end }}

{{/*
Probes. Liveness /-/healthy, readiness /-/ready (the configuration is
loaded): never the FTP servers' health, which is what the metrics report
(in a sidecar, readiness gates the FTP pod's Service). With TLS on the
probes use HTTPS (kubelet does not verify the certificate). Basic auth
needs nothing: the exporter leaves these two endpoints open, since the
kubelet cannot send a password kept in a Secret.
*/}}
{{- define "ftp-exporter.probe" -}}
{{- $web := .ctx.Values.web.config | default dict -}}
httpGet:
  path: {{ .path }}
  port: {{ include "ftp-exporter.portName" .ctx }}
  scheme: {{ if $web.tls_server_config }}HTTPS{{ else }}HTTP{{ end }}
{{- toYaml .timing | nindent 0 }}
{{- end }}

{{/*
The exporter's container, the same for the Deployment, the StatefulSet and
a sidecar. Its securityContext is complete on its own (a sidecar's pod may
run as root for the FTP server).
*/}}
{{- define "ftp-exporter.container" -}}
{{- $v := include "ftp-exporter.volumeNames" . | fromYaml -}}
{{- $listen := default (printf ":%d" (int .Values.web.port)) .Values.web.listenAddress -}}
- name: ftp-exporter
  image: {{ include "ftp-exporter.image" . | quote }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  args:
    - --config.file=/etc/ftp_exporter/config/ftp_exporter.yml
    - --web.listen-address={{ $listen }}
    - --log.level={{ .Values.logLevel }}
    - --log.format={{ .Values.logFormat }}
    {{- if .Values.web.config }}
    - --web.config.file=/etc/ftp_exporter/web/web-config.yml
    {{- end }}
    {{- if and (ne .Values.mode "sidecar") (gt (int .Values.shards) 0) }}
    - --shard.count={{ .Values.shards }}
    - --shard.index-from-hostname
    {{- end }}
    {{- range .Values.extraArgs }}
    - {{ . | quote }}
    {{- end }}
  {{- if or .Values.passwordEnv .Values.extraEnv }}
  env:
    {{- range .Values.passwordEnv }}
    - name: {{ .name }}
      valueFrom:
        secretKeyRef:
          name: {{ include "ftp-exporter.secretName" $ }}
          key: {{ .key }}
    {{- end }}
    {{- with .Values.extraEnv }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- end }}
  ports:
    - name: {{ include "ftp-exporter.portName" . }}
      containerPort: {{ .Values.web.port }}
      protocol: TCP
  livenessProbe:
    {{- include "ftp-exporter.probe" (dict "ctx" . "path" "/-/healthy" "timing" .Values.livenessProbe) | nindent 4 }}
  {{- if or (ne .Values.mode "sidecar") .Values.sidecar.readinessProbe }}
  readinessProbe:
    {{- include "ftp-exporter.probe" (dict "ctx" . "path" "/-/ready" "timing" .Values.readinessProbe) | nindent 4 }}
  {{- end }}
  {{- with .Values.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- toYaml .Values.securityContext | nindent 4 }}
  volumeMounts:
    - name: {{ $v.config }}
      mountPath: /etc/ftp_exporter/config
      readOnly: true
    {{- if include "ftp-exporter.hasSecret" . }}
    - name: {{ $v.secrets }}
      mountPath: /etc/ftp_exporter/secrets
      readOnly: true
    {{- end }}
    {{- if .Values.web.config }}
    - name: {{ $v.web }}
      mountPath: /etc/ftp_exporter/web
      readOnly: true
    {{- end }}
    {{- if .Values.web.tlsSecret }}
    - name: {{ $v.tls }}
      mountPath: /etc/ftp_exporter/tls
      readOnly: true
    {{- end }}
    {{- with .Values.extraVolumeMounts }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end }}

{{/* The exporter's volumes (a list, to put under a pod's `volumes:`). */}}
{{- define "ftp-exporter.volumes" -}}
{{- $v := include "ftp-exporter.volumeNames" . | fromYaml -}}
- name: {{ $v.config }}
  configMap:
    name: {{ include "ftp-exporter.configMapName" . }}
{{- if include "ftp-exporter.hasSecret" . }}
- name: {{ $v.secrets }}
  secret:
    secretName: {{ include "ftp-exporter.secretName" . }}
    defaultMode: 0444
{{- end }}
{{- if .Values.web.config }}
- name: {{ $v.web }}
  secret:
    secretName: {{ include "ftp-exporter.suffixed" (dict "ctx" . "suffix" "web") }}
    defaultMode: 0444
{{- end }}
{{- if .Values.web.tlsSecret }}
- name: {{ $v.tls }}
  secret:
    secretName: {{ .Values.web.tlsSecret }}
    defaultMode: 0444
{{- end }}
{{- with .Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
prometheus-config-reloader: watches the mounted configuration and passwords
and POSTs /-/reload when the kubelet updates them.
*/}}
{{- define "ftp-exporter.reloader" -}}
{{- $v := include "ftp-exporter.volumeNames" . | fromYaml -}}
{{- $r := .Values.reloader -}}
- name: config-reloader
  image: {{ printf "%s/%s:%s" $r.image.registry $r.image.repository $r.image.tag | quote }}
  imagePullPolicy: {{ $r.image.pullPolicy }}
  args:
    - --reload-url=http://127.0.0.1:{{ .Values.web.port }}/-/reload
    - --watched-dir=/etc/ftp_exporter/config
    {{- if include "ftp-exporter.hasSecret" . }}
    - --watched-dir=/etc/ftp_exporter/secrets
    {{- end }}
    - --listen-address=:{{ $r.port }}
  ports:
    - name: reloader-web
      containerPort: {{ $r.port }}
      protocol: TCP
  livenessProbe:
    httpGet:
      path: /healthz
      port: reloader-web
  {{- with $r.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- toYaml .Values.securityContext | nindent 4 }}
  volumeMounts:
    - name: {{ $v.config }}
      mountPath: /etc/ftp_exporter/config
      readOnly: true
    {{- if include "ftp-exporter.hasSecret" . }}
    - name: {{ $v.secrets }}
      mountPath: /etc/ftp_exporter/secrets
      readOnly: true
    {{- end }}
{{- end }}

{{/*
The pod spec of the Deployment and the StatefulSet.
*/}}
{{- define "ftp-exporter.podTemplate" -}}
metadata:
  labels:
    {{- include "ftp-exporter.podLabels" . | nindent 4 }}
  {{- $annotations := merge (include "ftp-exporter.checksum" . | fromYaml) (.Values.podAnnotations | default dict) }}
  {{- with $annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  serviceAccountName: {{ include "ftp-exporter.serviceAccountName" . }}
  automountServiceAccountToken: {{ .Values.serviceAccount.automountServiceAccountToken }}
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if .Values.active.hostNetwork }}
  hostNetwork: true
  dnsPolicy: ClusterFirstWithHostNet
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
  securityContext:
    {{- toYaml .Values.podSecurityContext | nindent 4 }}
  containers:
    {{- include "ftp-exporter.container" . | nindent 4 }}
    {{- if .Values.reloader.enabled }}
    {{- include "ftp-exporter.reloader" . | nindent 4 }}
    {{- end }}
    {{- with .Values.extraContainers }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  volumes:
    {{- include "ftp-exporter.volumes" . | nindent 4 }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{/* Refusals that need more than the schema can say. */}}
{{- define "ftp-exporter.validate" -}}
{{- if and .Values.reloader.enabled .Values.web.config }}
{{- fail "reloader.enabled cannot be combined with web.config: prometheus-config-reloader can neither verify the exporter's TLS certificate nor send a Basic auth password; leave reloader off (config changes then roll the pods)" }}
{{- end }}
{{- if and (gt (int .Values.shards) 0) (gt (int .Values.replicas) 1) }}
{{- fail "set shards or replicas, not both: shards: N runs N pods that split the targets; replicas > 1 without shards checks every target once per replica" }}
{{- end }}
{{- if and .Values.active.hostNetwork (eq .Values.mode "sidecar") }}
{{- fail "active.hostNetwork is for the standalone exporter; a sidecar shares its FTP server's pod network (set hostNetwork on the parent's pod if it must)" }}
{{- end }}
{{- end }}
