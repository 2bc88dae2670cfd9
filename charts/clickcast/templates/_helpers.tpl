{{/* Names and labels. */}}
{{- define "clickcast.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "clickcast.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "clickcast.selectorLabels" -}}
app.kubernetes.io/name: {{ include "clickcast.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "clickcast.labels" -}}
{{ include "clickcast.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "clickcast.serviceAccountName" -}}
{{- default (include "clickcast.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{/*
Images: one registry and tag (images.registry, images.tag) name all three; image.repository/image.tag
(the operator's) and images.jobs/images.serving (full references) override them one by one.
*/}}
{{- define "clickcast.tag" -}}
{{- default .Chart.AppVersion .Values.images.tag -}}
{{- end -}}

{{- define "clickcast.registryImage" -}}
{{- printf "%s/%s:%s" (trimSuffix "/" .ctx.Values.images.registry) .name (include "clickcast.tag" .ctx) -}}
{{- end -}}

{{- define "clickcast.image" -}}
{{- $repository := default (printf "%s/operator" (trimSuffix "/" .Values.images.registry)) .Values.image.repository -}}
{{- printf "%s:%s" $repository (default (include "clickcast.tag" .) .Values.image.tag) -}}
{{- end -}}

{{- define "clickcast.jobsImage" -}}
{{- default (include "clickcast.registryImage" (dict "ctx" . "name" "jobs")) .Values.images.jobs -}}
{{- end -}}

{{- define "clickcast.servingImage" -}}
{{- default (include "clickcast.registryImage" (dict "ctx" . "name" "serving")) .Values.images.serving -}}
{{- end -}}

{{/* true when RBAC (and peering) are per watched namespace; fails on settings that cannot work. */}}
{{- define "clickcast.namespaced" -}}
{{- if and .Values.rbac.namespaced (not .Values.watchNamespaces) -}}
{{- fail "rbac.namespaced needs watchNamespaces: a cluster-wide watch needs a ClusterRole" -}}
{{- end -}}
{{- if .Values.watchNamespaces -}}
{{- range .Values.watchNamespaces -}}
{{- if regexMatch "[*?\\[]" . -}}
{{- fail (printf "watchNamespaces: %q is a glob; namespaced RBAC needs the namespaces' names (give the names, or watch every namespace)" .) -}}
{{- end -}}
{{- end -}}
true
{{- end -}}
{{- end -}}

{{- define "clickcast.peering" -}}
{{- if gt (int .Values.replicas) 1 -}}true{{- end -}}
{{- end -}}

{{/*
The rules of the `kind` object in a multi-document manifest that the chart carries as a copy of
manifests/ (make chart-crds): one source of truth for the RBAC rules.
  include "clickcast.rulesOf" (dict "ctx" . "file" "files/rbac/operator.yaml" "kind" "ClusterRole")
*/}}
{{- define "clickcast.rulesOf" -}}
{{- $rules := list -}}
{{- range (regexSplit "(?m)^---\\s*$" (.ctx.Files.Get .file) -1) -}}
{{- $doc := fromYaml . -}}
{{- if eq (toString (get $doc "kind")) $.kind -}}
{{- $rules = $doc.rules -}}
{{- end -}}
{{- end -}}
{{- if not $rules -}}
{{- fail (printf "no %s rules in %s (run make chart-crds)" .kind .file) -}}
{{- end -}}
{{- toYaml $rules -}}
{{- end -}}

{{/* The operator's rules: the ClusterRole's, or in namespaced mode those but what only a cluster-wide watch needs. */}}
{{- define "clickcast.operatorRules" -}}
{{- $all := fromYamlArray (include "clickcast.rulesOf" (dict "ctx" . "file" "files/rbac/operator.yaml" "kind" "ClusterRole")) -}}
{{- if include "clickcast.namespaced" . -}}
{{- $kept := list -}}
{{- range $all -}}
{{- if not (or (has "customresourcedefinitions" .resources) (has "namespaces" .resources)) -}}
{{- $kept = append $kept . -}}
{{- end -}}
{{- end -}}
{{- toYaml $kept -}}
{{- else -}}
{{- toYaml $all -}}
{{- end -}}
{{- end -}}

{{/* The peering rules: the peering ClusterRole's, or in namespaced mode only its namespaced KopfPeering rule. */}}
{{- define "clickcast.peeringRules" -}}
{{- $all := fromYamlArray (include "clickcast.rulesOf" (dict "ctx" . "file" "files/rbac/operator-peering.yaml" "kind" "ClusterRole")) -}}
{{- if include "clickcast.namespaced" . -}}
{{- $kept := list -}}
{{- range $all -}}
{{- if has "kopfpeerings" .resources -}}
{{- $kept = append $kept . -}}
{{- end -}}
{{- end -}}
{{- toYaml $kept -}}
{{- else -}}
{{- toYaml $all -}}
{{- end -}}
{{- end -}}
