{{/*
The scrape endpoint shared by the ServiceMonitor and the PodMonitor: scheme
and TLS follow web.config, Basic auth and TLS settings come from the
monitor's values.
*/}}
{{- define "ftp-exporter.scrapeEndpoint" -}}
{{- $m := .monitor -}}
{{- $web := .ctx.Values.web.config | default dict -}}
port: {{ include "ftp-exporter.portName" .ctx }}
path: /metrics
scheme: {{ if $web.tls_server_config }}https{{ else }}http{{ end }}
{{- with $m.interval }}
interval: {{ . }}
{{- end }}
{{- with $m.scrapeTimeout }}
scrapeTimeout: {{ . }}
{{- end }}
{{- with $m.tlsConfig }}
tlsConfig:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $m.basicAuth }}
basicAuth:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $m.relabelings }}
relabelings:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $m.metricRelabelings }}
metricRelabelings:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
