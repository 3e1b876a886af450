{{/*
The exporter as a sidecar in another chart's pod. A parent chart that has
this chart as a dependency (mode: sidecar) adds it to its FTP server's pod:

  spec:
    {{- $ftpExporter := index .Subcharts "ftp-exporter" }}
    {{- if include "ftp-exporter.sidecar.native" $ftpExporter }}
    initContainers:
      {{- include "ftp-exporter.sidecar.container" $ftpExporter | nindent 6 }}
    {{- end }}
    containers:
      - name: ftp-server
        ...
      {{- if not (include "ftp-exporter.sidecar.native" $ftpExporter) }}
      {{- include "ftp-exporter.sidecar.container" $ftpExporter | nindent 6 }}
      {{- end }}
    volumes:
      {{- include "ftp-exporter.sidecar.volumes" $ftpExporter | nindent 6 }}

and `{{ include "ftp-exporter.sidecar.annotations" $ftpExporter }}` in the
pod template's annotations, so that config changes roll the pod.
(`.Subcharts` gives a subchart's own scope: Helm 3.7 or later.)
*/}}

{{- define "ftp-exporter.sidecar.requireMode" -}}
{{- if ne .Values.mode "sidecar" }}
{{- fail "the ftp-exporter.sidecar.* templates need the dependency's mode: sidecar (in the parent's values: ftp-exporter: {mode: sidecar})" }}
{{- end }}
{{- end }}

{{/* "true" when the sidecar is a native one (an init container). */}}
{{- define "ftp-exporter.sidecar.native" -}}
{{- if .Values.sidecar.native }}true{{ end }}
{{- end }}

{{/*
The container. A native sidecar (sidecar.native) is an init container with
restartPolicy: Always: it starts before the FTP server and stops after it.
Kubernetes runs those from 1.29 on (SidecarContainers, beta and on by
default); below that the field would be dropped and the exporter would
block the pod's start, so it is refused here.
*/}}
{{- define "ftp-exporter.sidecar.container" -}}
{{- include "ftp-exporter.sidecar.requireMode" . }}
{{- if .Values.sidecar.native }}
{{- $kube := include "ftp-exporter.kubeVersion" . }}
{{- if semverCompare "<1.29.0-0" $kube }}
{{- fail (printf "sidecar.native needs Kubernetes 1.29 or later (an init container with restartPolicy: Always); this cluster is %s: set sidecar.native=false to run the exporter as an ordinary container of the pod" $kube) }}
{{- end }}
{{- end }}
{{- include "ftp-exporter.container" . }}
{{- if .Values.sidecar.native }}
  restartPolicy: Always
{{- end }}
{{- end }}

{{- define "ftp-exporter.sidecar.volumes" -}}
{{- include "ftp-exporter.sidecar.requireMode" . }}
{{- include "ftp-exporter.volumes" . }}
{{- end }}

{{- define "ftp-exporter.sidecar.annotations" -}}
{{- include "ftp-exporter.sidecar.requireMode" . }}
{{- include "ftp-exporter.checksum" . }}
{{- end }}
