{{/* The release's full name: the release name, with the chart name unless it holds it already. */}}
{{- define "muster-agent.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "muster-agent.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "muster-agent.labels" -}}
{{ include "muster-agent.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: muster
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "muster-agent.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "muster-agent.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
A setting as an environment string. Values files give numbers as float64, which would print as
3.6e+06; settings are whole numbers, so they print as integers.
*/}}
{{- define "muster.settingString" -}}
{{- if or (kindIs "float64" .) (kindIs "int64" .) (kindIs "int" .) -}}
{{- printf "%d" (int64 .) -}}
{{- else -}}
{{- toString . -}}
{{- end -}}
{{- end -}}

{{/*
The container's environment: every non-empty setting, then the files of the client certificate
Secret. A setting given explicitly wins over the chart's value.
*/}}
{{- define "muster-agent.env" -}}
{{- $env := dict -}}
{{- $v := .Values -}}
{{- $_ := required "settings.MUSTER_CLUSTER is required: the name this worker cluster is registered under at the hub" $v.settings.MUSTER_CLUSTER -}}
{{- $_ := required "settings.MUSTER_HUB is required: the hub's gRPC address host:port as this cluster reaches it" $v.settings.MUSTER_HUB -}}
{{- if $v.tls.secretName -}}
{{- $_ := set $env "MUSTER_TLS_CERT_FILE" (dict "name" "MUSTER_TLS_CERT_FILE" "value" (printf "/etc/muster/tls/%s" $v.tls.certKey)) -}}
{{- $_ := set $env "MUSTER_TLS_KEY_FILE" (dict "name" "MUSTER_TLS_KEY_FILE" "value" (printf "/etc/muster/tls/%s" $v.tls.keyKey)) -}}
{{- if $v.tls.caKey -}}
{{- $_ := set $env "MUSTER_TLS_CA_FILE" (dict "name" "MUSTER_TLS_CA_FILE" "value" (printf "/etc/muster/tls/%s" $v.tls.caKey)) -}}
{{- end -}}
{{- end -}}
{{- range $name, $value := $v.settings -}}
{{- $s := include "muster.settingString" $value -}}
{{- if ne $s "" -}}
{{- $_ := set $env $name (dict "name" $name "value" $s) -}}
{{- end -}}
{{- end -}}
{{- range $name := keys $env | sortAlpha }}
- {{ get $env $name | toJson }}
{{- end -}}
{{- end -}}
