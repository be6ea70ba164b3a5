{{/* The release's full name: the release name, with the chart name unless it holds it already. */}}
{{- define "muster-hub.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "muster-hub.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "muster-hub.labels" -}}
{{ include "muster-hub.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: muster
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "muster-hub.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "muster-hub.fullname" .) .Values.serviceAccount.name -}}
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

{{/* The gRPC port: the port of settings.MUSTER_GRPC_ADDR. */}}
{{- define "muster-hub.grpcPort" -}}
{{- splitList ":" .Values.settings.MUSTER_GRPC_ADDR | last | int -}}
{{- end -}}

{{/*
The container's environment: every non-empty setting, then what the chart's own values set (the
files it mounts, the Secrets it reads). A setting given explicitly wins over the chart's value.
*/}}
{{- define "muster-hub.env" -}}
{{- $env := dict -}}
{{- $v := .Values -}}
{{- if $v.database.urlSecret.name -}}
{{- $_ := set $env "MUSTER_DATABASE_URL" (dict "name" "MUSTER_DATABASE_URL" "valueFrom" (dict "secretKeyRef" (dict "name" $v.database.urlSecret.name "key" $v.database.urlSecret.key))) -}}
{{- end -}}
{{- if $v.redis.urlSecret.name -}}
{{- $_ := set $env "MUSTER_REDIS_URL" (dict "name" "MUSTER_REDIS_URL" "valueFrom" (dict "secretKeyRef" (dict "name" $v.redis.urlSecret.name "key" $v.redis.urlSecret.key))) -}}
{{- end -}}
{{- if $v.tls.secretName -}}
{{- $_ := set $env "MUSTER_TLS_CERT_FILE" (dict "name" "MUSTER_TLS_CERT_FILE" "value" (printf "/etc/muster/tls/%s" $v.tls.certKey)) -}}
{{- $_ := set $env "MUSTER_TLS_KEY_FILE" (dict "name" "MUSTER_TLS_KEY_FILE" "value" (printf "/etc/muster/tls/%s" $v.tls.keyKey)) -}}
{{- $_ := set $env "MUSTER_TLS_CLIENT_CA_FILE" (dict "name" "MUSTER_TLS_CLIENT_CA_FILE" "value" (printf "/etc/muster/tls/%s" $v.tls.clientCaKey)) -}}
{{- end -}}
{{- if $v.auth.tokensSecret.name -}}
{{- $_ := set $env "MUSTER_AUTH_TOKENS_FILE" (dict "name" "MUSTER_AUTH_TOKENS_FILE" "value" (printf "/etc/muster/auth/%s" $v.auth.tokensSecret.key)) -}}
{{- end -}}
{{- if $v.oidc.jwksConfigMap.name -}}
{{- $_ := set $env "MUSTER_OIDC_JWKS_FILE" (dict "name" "MUSTER_OIDC_JWKS_FILE" "value" (printf "/etc/muster/oidc/%s" $v.oidc.jwksConfigMap.key)) -}}
{{- end -}}
{{- if $v.inventory.kubeconfigSecret.name -}}
{{- $_ := set $env "MUSTER_INVENTORY_KUBECONFIG" (dict "name" "MUSTER_INVENTORY_KUBECONFIG" "value" (printf "/etc/muster/inventory/%s" $v.inventory.kubeconfigSecret.key)) -}}
{{- else if $v.inventory.inCluster -}}
{{- $_ := set $env "MUSTER_INVENTORY_KUBECONFIG" (dict "name" "MUSTER_INVENTORY_KUBECONFIG" "value" "/etc/muster/inventory/kubeconfig") -}}
{{- end -}}
{{- if $v.accessProviders.configMap.name -}}
{{- $_ := set $env "MUSTER_CLUSTER_ACCESS_PROVIDERS_FILE" (dict "name" "MUSTER_CLUSTER_ACCESS_PROVIDERS_FILE" "value" (printf "/etc/muster/access-providers/%s" $v.accessProviders.configMap.key)) -}}
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
