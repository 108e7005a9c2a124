{{/*
Shared helpers. Every per-service object is rendered from one template that ranges over
"shop.names"; the facts about the services (ports, who calls whom, which models each
loads) are defined once here.
*/}}

{{/* The services, in the order of services/protocol/src/service.rs. */}}
{{- define "shop.names" -}}
kiosk voice vision dialogue catalog tryon
{{- end }}

{{/* Default ports (services/protocol/src/service.rs), the same in every mode. */}}
{{- define "shop.ports" -}}
{"kiosk": 8080, "voice": 8081, "vision": 8082, "dialogue": 8083, "catalog": 8084, "tryon": 8085}
{{- end }}

{{/*
Service-to-service calls (ARCHITECTURE.md): caller -> callees. The kiosk orchestrates;
only the catalog touches the vector store (its Qdrant edge is added by the policies).
*/}}
{{- define "shop.edges" -}}
{{- $edges := dict "kiosk" (list "voice" "vision" "dialogue" "catalog" "tryon") "dialogue" (list "catalog") "vision" (list "catalog") "tryon" (list "catalog") -}}
{{- if .Values.networkPolicy.tryonToVision }}{{ $_ := set $edges "tryon" (list "catalog" "vision") }}{{ end -}}
{{- toJson $edges -}}
{{- end }}

{{/* Base name of every object: release name (or fullnameOverride), at most 40 characters. */}}
{{- define "shop.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- end }}

{{- define "shop.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end }}

{{/* Labels of every object; args: dict "root" $ "component" "<name>". */}}
{{- define "shop.labels" -}}
{{ include "shop.selectorLabels" . }}
app.kubernetes.io/part-of: edge-shopping-assistant
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ include "shop.chart" .root }}
edge-shopping-assistant/store: {{ .root.Values.store.id }}
edge-shopping-assistant/locale: {{ .root.Values.store.locale }}
{{- end }}

{{/*
Labels of a pod template: no chart or app version, so a chart upgrade that leaves a pod
spec alone does not restart it (and drop its sessions).
*/}}
{{- define "shop.podLabels" -}}
{{ include "shop.selectorLabels" . }}
app.kubernetes.io/part-of: edge-shopping-assistant
edge-shopping-assistant/store: {{ .root.Values.store.id }}
edge-shopping-assistant/locale: {{ .root.Values.store.locale }}
{{- end }}

{{/* Labels that select a component's pods; args: dict "root" $ "component" "<name>". */}}
{{- define "shop.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Object name of a component; args: dict "root" $ "component" "<name>". */}}
{{- define "shop.name" -}}
{{- printf "%s-%s" (include "shop.fullname" .root) .component -}}
{{- end }}

{{/* "true" when the service is created; args: dict "root" $ "name" "<service>". */}}
{{- define "shop.enabled" -}}
{{- if (index .root.Values.services .name).create }}true{{ end -}}
{{- end }}

{{/* Callees of a service that are created: {"items": [...]}; args: dict "root" $ "name". */}}
{{- define "shop.callees" -}}
{{- $root := .root -}}
{{- $all := index (include "shop.edges" $root | fromJson) .name | default list -}}
{{- $items := list -}}
{{- range $all }}{{ if include "shop.enabled" (dict "root" $root "name" .) }}{{ $items = append $items . }}{{ end }}{{ end -}}
{{- toJson (dict "items" $items) -}}
{{- end }}

{{/* Callers of a service that are created: {"items": [...]}; args: dict "root" $ "name". */}}
{{- define "shop.callers" -}}
{{- $root := .root -}}
{{- $name := .name -}}
{{- $items := list -}}
{{- range $caller, $callees := include "shop.edges" $root | fromJson }}
{{- if and (has $name $callees) (include "shop.enabled" (dict "root" $root "name" $caller)) }}{{ $items = append $items $caller }}{{ end }}
{{- end -}}
{{- toJson (dict "items" $items) -}}
{{- end }}

{{/* The in-cluster base URL of a service. */}}
{{- define "shop.url" -}}
{{- printf "http://%s:%v" (include "shop.name" (dict "root" .root "component" .name)) (index (include "shop.ports" .root | fromJson) .name) -}}
{{- end }}

{{/* Image reference; args: dict "root" $ "image" <repository/tag values>. */}}
{{- define "shop.image" -}}
{{- $tag := .image.tag | default .root.Values.image.tag | default .root.Chart.AppVersion -}}
{{- if .root.Values.image.registry -}}
{{- printf "%s/%s:%s" (trimSuffix "/" .root.Values.image.registry) .image.repository $tag -}}
{{- else -}}
{{- printf "%s:%s" .image.repository $tag -}}
{{- end -}}
{{- end }}

{{/*
The manifest names (fixtures/models.toml) of the models a service loads, as
{"items": [...]}; args: dict "root" $ "name". The names come from the service's config
values, so a new model version is a values change.
*/}}
{{- define "shop.serviceModels" -}}
{{- $config := (index .root.Values.services .name).config | default dict -}}
{{- $items := list -}}
{{- if eq .name "voice" -}}
{{- $items = list $config.stt_model $config.vad_model "onnxruntime" -}}
{{- range $language, $voice := $config.tts_voices }}{{ $items = append $items $voice }}{{ end -}}
{{- else if eq .name "vision" -}}
{{- $items = list $config.face_detector $config.face_embedder -}}
{{- else if and (eq .name "dialogue") (ne ($config.backend | default "local") "remote") -}}
{{- $items = list $config.model -}}
{{- else if eq .name "catalog" -}}
{{- /* services/catalog/src/embed.rs: MODEL_NAME, not configurable. */ -}}
{{- $items = list "all-minilm-l6-v2" -}}
{{- end -}}
{{- toJson (dict "items" ($items | compact | uniq)) -}}
{{- end }}

{{/* Every model a created service needs, sorted: {"items": [...]}. */}}
{{- define "shop.allModels" -}}
{{- $root := . -}}
{{- $items := list -}}
{{- range splitList " " (include "shop.names" .) }}
{{- if include "shop.enabled" (dict "root" $root "name" .) }}
{{- $items = concat $items (include "shop.serviceModels" (dict "root" $root "name" .) | fromJson).items }}
{{- end }}
{{- end -}}
{{- toJson (dict "items" ($items | uniq | sortAlpha)) -}}
{{- end }}

{{/* Whether the chart runs the Qdrant StatefulSet. */}}
{{- define "shop.qdrantEnabled" -}}
{{- if and .Values.services.catalog.create (eq .Values.services.catalog.store "server") (not .Values.qdrant.external.url) }}true{{ end -}}
{{- end }}

{{/* gRPC URL of the Qdrant the catalog uses. */}}
{{- define "shop.qdrantUrl" -}}
{{- if .Values.qdrant.external.url -}}
{{- .Values.qdrant.external.url -}}
{{- else -}}
{{- printf "http://%s:6334" (include "shop.name" (dict "root" . "component" "qdrant")) -}}
{{- end -}}
{{- end }}

{{- define "shop.secretName" -}}
{{- .Values.secrets.existingSecret | default (printf "%s-secrets" (include "shop.fullname" .)) -}}
{{- end }}

{{/*
One TOML value. Helm reads YAML numbers as float64: integral ones are written as TOML
integers (serde reads an integer into an f32 field too, but never a float into usize).
*/}}
{{- define "shop.tomlValue" -}}
{{- if kindIs "string" . -}}
{{- toJson . -}}
{{- else if kindIs "bool" . -}}
{{- ternary "true" "false" . -}}
{{- else if kindIs "float64" . -}}
{{- if eq (float64 (int64 .)) . }}{{ int64 . }}{{ else }}{{ . }}{{ end -}}
{{- else if or (kindIs "int" .) (kindIs "int64" .) -}}
{{- . -}}
{{- else if kindIs "slice" . -}}
[{{ range $i, $v := . }}{{ if $i }}, {{ end }}{{ include "shop.tomlValue" $v }}{{ end }}]
{{- else -}}
{{- fail (printf "config value %v: only strings, numbers, booleans and lists of them fit a TOML key" .) -}}
{{- end -}}
{{- end }}

{{/* A TOML key: bare when it can be. */}}
{{- define "shop.tomlKey" -}}
{{- if regexMatch "^[A-Za-z0-9_-]+$" . }}{{ . }}{{ else }}{{ toJson . }}{{ end -}}
{{- end }}

{{/*
A dict as a TOML document: plain keys first, then one [table] per nested dict, with its
dotted path. Null values are left out (TOML has no null; the service's default applies).
args: dict "table" <dict> "path" "<dotted path or empty>".
*/}}
{{- define "shop.toml" -}}
{{- $path := .path -}}
{{- range $key, $value := .table }}
{{- if and (not (kindIs "map" $value)) (not (kindIs "invalid" $value)) }}
{{ include "shop.tomlKey" $key }} = {{ include "shop.tomlValue" $value }}
{{- end }}
{{- end }}
{{- range $key, $value := .table }}
{{- if kindIs "map" $value }}
{{- $sub := ternary (include "shop.tomlKey" $key) (printf "%s.%s" $path (include "shop.tomlKey" $key)) (eq $path "") }}

[{{ $sub }}]
{{- include "shop.toml" (dict "table" $value "path" $sub) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The configuration file of one service (services/service-kit/src/config.rs): shared keys,
its own section (values first, then what the chart owns: listen address, port, URL and,
for the catalog, the store back end), and the URL of each service it calls. Secrets are
not here: they come from the Secret as SHOP_CATALOG__* environment variables.
args: dict "root" $ "name".
*/}}
{{- define "shop.configToml" -}}
{{- $root := .root -}}
{{- $name := .name -}}
{{- $values := index $root.Values.services $name -}}
{{- $port := index (include "shop.ports" $root | fromJson) $name -}}
{{- $telemetry := dict "format" $root.Values.telemetry.format "level" $root.Values.telemetry.level -}}
{{- with $root.Values.telemetry.otlpEndpoint }}{{ $_ := set $telemetry "otlp_endpoint" . }}{{ end -}}
{{- $owned := dict "host" "0.0.0.0" "port" $port "url" (include "shop.url" (dict "root" $root "name" $name)) -}}
{{- if eq $name "catalog" -}}
{{- $_ := set $owned "store" $values.store -}}
{{- $_ := set $owned "collection_prefix" ($values.collectionPrefix | default (printf "%s_" $root.Values.store.id)) -}}
{{- if eq $values.store "server" }}{{ $_ := set $owned "qdrant_url" (include "shop.qdrantUrl" $root) }}{{ end -}}
{{- if $values.seed.configMap }}{{ $_ := set $owned "seed_file" (printf "/seed/%s" $values.seed.key) }}{{ end -}}
{{- end -}}
{{- $section := mergeOverwrite (deepCopy ($values.config | default dict)) $owned -}}
{{- $doc := dict "models_dir" "/models" "data_dir" "/data" "telemetry" $telemetry $name $section -}}
{{- range (include "shop.callees" .| fromJson).items }}
{{- $_ := set $doc . (dict "url" (include "shop.url" (dict "root" $root "name" .))) }}
{{- end -}}
# {{ $name }}: layered over the built-in defaults; SHOP_<SECTION>__<KEY> variables win.
{{- include "shop.toml" (dict "table" $doc "path" "") }}
{{ end }}

{{/* Pod-level security context of the assistant's pods. */}}
{{- define "shop.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
fsGroup: {{ .Values.securityContext.fsGroup }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Container security context: the same for every container, init containers included. */}}
{{- define "shop.containerSecurityContext" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
privileged: false
readOnlyRootFilesystem: true
capabilities:
  drop:
    - ALL
{{- end }}

{{/* The models volume (a pod's volumes entry). */}}
{{- define "shop.modelsVolume" -}}
- name: models
{{- if .Values.models.volume.hostPath }}
  hostPath:
    path: {{ .Values.models.volume.hostPath }}
    type: Directory
{{- else }}
  persistentVolumeClaim:
    claimName: {{ .Values.models.volume.existingClaim | default (printf "%s-models" (include "shop.fullname" .)) }}
{{- end }}
{{- end }}

{{/* Whether the install Job runs: it needs somewhere to fetch from and a volume it may write. */}}
{{- define "shop.installJob" -}}
{{- $mirror := or .Values.models.mirror.hostPath .Values.models.mirror.existingClaim -}}
{{- if and .Values.models.install.enabled (not .Values.models.volume.hostPath) (or $mirror (not .Values.offline)) ((include "shop.allModels" . | fromJson).items) }}true{{ end -}}
{{- end }}

{{/*
The init container of a pod that loads models: waits until `models verify` passes for
this service's models (the install Job may still be running). args: dict "root" $ "name".
*/}}
{{- define "shop.waitForModels" -}}
{{- $root := .root -}}
{{- $models := (include "shop.serviceModels" . | fromJson).items -}}
- name: wait-for-models
  image: {{ include "shop.image" (dict "root" $root "image" $root.Values.models.install.image) }}
  imagePullPolicy: {{ $root.Values.image.pullPolicy }}
  command:
    - /bin/sh
    - -c
    - |
      i=0
      until models verify{{ range $models }} --only {{ . }}{{ end }}; do
        i=$((i + 1))
        if [ "$i" -ge {{ $root.Values.models.verify.attempts }} ]; then
          echo "models still missing or broken after $i attempts: see the models Job (kubectl logs job/...-models-...)" >&2
          exit 1
        fi
        echo "waiting for the models volume ($i/{{ $root.Values.models.verify.attempts }})"
        sleep {{ $root.Values.models.verify.intervalSeconds }}
      done
  env:
    - name: SHOP_MODELS_DIR
      value: /models
  securityContext:
    {{- include "shop.containerSecurityContext" $root | nindent 4 }}
  resources:
    {{- toYaml $root.Values.models.verify.resources | nindent 4 }}
  volumeMounts:
    - name: models
      mountPath: /models
      readOnly: true
{{- end }}

{{/* Cross-field checks that a JSON schema cannot express well; fail with the fix. */}}
{{- define "shop.validate" -}}
{{- $mirror := or .Values.models.mirror.hostPath .Values.models.mirror.existingClaim -}}
{{- $preloaded := or .Values.models.volume.hostPath .Values.models.volume.existingClaim -}}
{{- if and .Values.offline (not $mirror) (not $preloaded) -}}
{{- fail "offline: true needs models.mirror.hostPath or models.mirror.existingClaim (the install Job copies from it), or a pre-loaded models.volume.hostPath or models.volume.existingClaim" -}}
{{- end -}}
{{- if and .Values.models.mirror.hostPath .Values.models.mirror.existingClaim -}}
{{- fail "models.mirror: set hostPath or existingClaim, not both" -}}
{{- end -}}
{{- if and .Values.models.volume.hostPath .Values.models.volume.existingClaim -}}
{{- fail "models.volume: set hostPath or existingClaim, not both" -}}
{{- end -}}
{{- if and .Values.qdrant.external.url (not .Values.qdrant.external.egressTo) -}}
{{- fail "qdrant.external.url needs qdrant.external.egressTo (the NetworkPolicy peers of that Qdrant)" -}}
{{- end -}}
{{- if and (gt (int .Values.qdrant.replicas) 1) (gt (int .Values.qdrant.cluster.replicationFactor) (int .Values.qdrant.replicas)) -}}
{{- fail "qdrant.cluster.replicationFactor cannot exceed qdrant.replicas" -}}
{{- end -}}
{{- if gt (int .Values.qdrant.cluster.writeConsistencyFactor) (int .Values.qdrant.cluster.replicationFactor) -}}
{{- fail "qdrant.cluster.writeConsistencyFactor cannot exceed qdrant.cluster.replicationFactor" -}}
{{- end -}}
{{- if and .Values.services.catalog.create (eq .Values.services.catalog.store "embedded") .Values.qdrant.external.url -}}
{{- fail "qdrant.external.url is for services.catalog.store: server" -}}
{{- end -}}
{{- range $name := splitList " " (include "shop.names" .) }}
{{- $svc := index $.Values.services $name }}
{{- if and $svc.autoscaling $svc.autoscaling.enabled (gt (int $svc.autoscaling.minReplicas) (int $svc.autoscaling.maxReplicas)) }}
{{- fail (printf "services.%s.autoscaling: minReplicas is above maxReplicas" $name) }}
{{- end }}
{{- end }}
{{- end }}
