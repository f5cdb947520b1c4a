#!/usr/bin/env bash
# Builds and starts the real servers the e2e tests run against, outside the
# repository, from the Go module proxy only. Nothing here is committed: the
# sources, binaries and data live under $E2E_DIR (default /tmp/e2e).
#
#   bash e2e/servers.sh build   # ~1 h of compiling on 2 cores for all three
#   bash e2e/servers.sh start   # starts them on 127.0.0.1, prints the test env
#   bash e2e/servers.sh stop
#
#   bash e2e/servers.sh build-k8s   # etcd + kube-apiserver, ~20 min on 2 busy cores
#   bash e2e/servers.sh start-k8s   # on 127.0.0.1:6443 (etcd on :2379), prints the test env
#   bash e2e/servers.sh stop-k8s
set -euo pipefail

E2E_DIR=${E2E_DIR:-/tmp/e2e}
SRC=$E2E_DIR/src
BIN=$E2E_DIR/bin
DATA=$E2E_DIR/data
mkdir -p "$SRC" "$BIN" "$DATA"

# fetch MODULE@VERSION copies a module's source out of the module cache into
# $SRC/NAME@VERSION, writable.
fetch() {
  local dir
  dir=$(go mod download -json "$1" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  local dst=$SRC/$(basename "$dir")
  if [ ! -d "$dst" ]; then
    cp -r "$dir" "$dst"
    chmod -R u+w "$dst"
  fi
  echo "$dst"
}

build_pyroscope_037() {
  # Pyroscope 0.37.2 (the last OG release). Without the embedassets tag the
  # web UI is read from disk, so no JS build is needed. Its godeltaprof
  # v0.1.0 links to runtime internals only up to Go 1.20: build with 1.20.
  local d
  d=$(cd "$E2E_DIR" && fetch github.com/pyroscope-io/pyroscope@v0.37.2)
  (cd "$d" && GOTOOLCHAIN=go1.20.14 go build -o "$BIN/pyroscope-037" ./cmd/pyroscope)
}

build_pyroscope_v1() {
  # Grafana Pyroscope v1.12.0, the newest v1 release the proxy serves here.
  # Its api/ sub-module is replaced by ./api, which the module zip does not
  # hold, so it is built against the published api module v1.6.0 instead:
  # - the OTLP ingest handler, whose protos that api no longer carries, is
  #   left out (the tests do not use OTLP);
  # - services gain the api's newer RPCs as "unimplemented" stubs;
  # - grpc stays at v1.65.0, which the server's storage clients need.
  local d
  d=$(cd "$E2E_DIR" && fetch github.com/grafana/pyroscope@v1.12.0)
  cd "$d"
  if ! grep -q 'api => github.com/grafana/pyroscope/api v1.6.0' go.mod; then
    rm -f go.work go.work.sum
    sed -i 's#github.com/grafana/pyroscope/api => ./api#github.com/grafana/pyroscope/api => github.com/grafana/pyroscope/api v1.6.0#' go.mod
    printf '\nreplace google.golang.org/grpc => google.golang.org/grpc v1.65.0\n' >> go.mod
    sed -i -e '/"github.com\/grafana\/pyroscope\/pkg\/ingester\/otlp"/d' \
      -e '/otlpHandler := otlp.NewOTLPIngestHandler/d' \
      -e '/ProfilesService\/Export", otlpHandler/d' pkg/api/api.go
    local qc=github.com/grafana/pyroscope/api/gen/proto/go/querier/v1/querierv1connect
    sed -i 's#^type Router struct {#&\n\tquerierv1connect.UnimplementedQuerierServiceHandler#' pkg/frontend/read_path/router.go
    sed -i 's#^type QueryFrontend struct {#&\n\tquerierv1connect.UnimplementedQuerierServiceHandler#' pkg/frontend/read_path/query_frontend/query_frontend.go
    sed -i 's#^type Frontend struct {#&\n\tquerierv1connect.UnimplementedQuerierServiceHandler#' pkg/frontend/frontend.go
    sed -i 's#^type Querier struct {#&\n\tquerierv1connect.UnimplementedQuerierServiceHandler#' pkg/querier/querier.go
    for f in pkg/frontend/frontend.go pkg/querier/querier.go; do
      grep -q "\"$qc\"" $f || sed -i "0,/^import (/s##import (\n\t\"$qc\"#" $f
    done
    sed -i 's#^type TenantSettings struct {#&\n\tsettingsv1connect.UnimplementedSettingsServiceHandler#' pkg/settings/settings.go
    sed -i '3a\	"github.com/grafana/pyroscope/api/gen/proto/go/settings/v1/settingsv1connect"' pkg/settings/settings.go
    sed -i 's#^type AdHocProfiles struct {#&\n\tadhocprofilesv1connect.UnimplementedAdHocProfileServiceHandler#' pkg/adhocprofiles/adhocprofiles.go
    sed -i '3a\	"github.com/grafana/pyroscope/api/gen/proto/go/adhocprofiles/v1/adhocprofilesv1connect"' pkg/adhocprofiles/adhocprofiles.go
    cat >> pkg/experiment/metastore/client/client.go <<'EOF'

// GetTenants is a stub added for the e2e build against a newer api module.
func (c *Client) GetTenants(context.Context, *metastorev1.GetTenantsRequest, ...grpc.CallOption) (*metastorev1.GetTenantsResponse, error) {
	return nil, fmt.Errorf("GetTenants: not implemented in this build")
}
EOF
  fi
  GOFLAGS=-mod=mod go build -o "$BIN/pyroscope-v1" ./cmd/pyroscope
}

build_parca() {
  # Parca v0.28.0: the module ships its built UI, so it builds as is.
  local d
  d=$(cd "$E2E_DIR" && fetch github.com/parca-dev/parca@v0.28.0)
  (cd "$d" && go build -o "$BIN/parca" ./cmd/parca)
}

build_k8s() {
  # etcd v3.6.16: its go.mod points the etcd modules it is built with at
  # sibling directories of the repository (../api, ...), which the module zip
  # does not hold; without those replaces the published versions are used.
  local d
  d=$(cd "$E2E_DIR" && fetch go.etcd.io/etcd/server/v3@v3.6.16)
  (cd "$d" && sed -i '/=> \.\.\//d' go.mod && rm -f go.work go.work.sum &&
    GOWORK=off GOFLAGS=-mod=mod nice go build -o "$BIN/etcd" .)
  # kube-apiserver v1.34.4: the staging modules it replaces by
  # ./staging/src/k8s.io/X are separate modules (not in the zip); the
  # published k8s.io/X v0.34.4 are the same code.
  d=$(cd "$E2E_DIR" && fetch k8s.io/kubernetes@v1.34.4)
  (cd "$d" && sed -i 's#^\(\s*k8s.io/[a-z0-9-]*\) => ./staging/src/k8s.io/\([a-z0-9-]*\)$#\1 => k8s.io/\2 v0.34.4#' go.mod &&
    rm -rf go.work go.work.sum vendor &&
    GOWORK=off GOFLAGS=-mod=mod nice go build -o "$BIN/kube-apiserver" ./cmd/kube-apiserver)
}

start() {
  # Pyroscope 0.37.2 on :4040 with API-key auth for ingestion.
  mkdir -p "$DATA/p037"
  cat > "$E2E_DIR/p037.yml" <<EOF
api-bind-addr: 127.0.0.1:4040
storage-path: $DATA/p037
analytics-opt-out: true
auth:
  internal:
    enabled: true
    admin:
      create: true
      name: admin
      password: e2e-admin-pass
  ingestion:
    enabled: true
EOF
  # exec: the pid file holds the server's own pid, and no shell is left
  # holding the caller's stdout.
  (cd "$E2E_DIR" && exec nohup "$BIN/pyroscope-037" server -config "$E2E_DIR/p037.yml" \
    > "$E2E_DIR/p037.log" 2>&1 < /dev/null) &
  echo $! > "$E2E_DIR/p037.pid"

  # Grafana Pyroscope v1.12.0 on :4041, single binary, filesystem storage,
  # every ring address pinned to loopback.
  mkdir -p "$DATA/gp"
  (cd "$DATA/gp" && exec nohup "$BIN/pyroscope-v1" -target=all \
    -server.http-listen-address=127.0.0.1 -server.http-listen-port=4041 \
    -server.grpc-listen-address=127.0.0.1 -server.grpc-listen-port=9096 \
    -memberlist.bind-addr=127.0.0.1 -memberlist.bind-port=7947 -memberlist.advertise-addr=127.0.0.1 \
    -compactor.ring.instance-addr=127.0.0.1 -distributor.ring.instance-addr=127.0.0.1 \
    -ingester.lifecycler.addr=127.0.0.1 -overrides-exporter.ring.instance-addr=127.0.0.1 \
    -query-frontend.instance-addr=127.0.0.1 -query-scheduler.ring.instance-addr=127.0.0.1 \
    -store-gateway.sharding-ring.instance-addr=127.0.0.1 \
    -storage.backend=filesystem -storage.filesystem.dir="$DATA/gp/blocks" \
    -pyroscopedb.data-path="$DATA/gp/head" \
    -self-profiling.disable-push=true -usage-stats.enabled=false \
    > "$E2E_DIR/gp.log" 2>&1 < /dev/null) &
  echo $! > "$E2E_DIR/gp.pid"

  # Parca v0.28.0 on :7070 (gRPC and HTTP on one port), persistent storage
  # on disk, no upstream debuginfod.
  mkdir -p "$DATA/parca"
  cat > "$E2E_DIR/parca.yaml" <<EOF
object_storage:
  bucket:
    type: "FILESYSTEM"
    config:
      directory: "$DATA/parca/objects"
EOF
  (cd "$DATA/parca" && exec nohup "$BIN/parca" --config-path="$E2E_DIR/parca.yaml" \
    --http-address=127.0.0.1:7070 --enable-persistence --storage-path="$DATA/parca/store" \
    --debuginfod-upstream-servers= > "$E2E_DIR/parca.log" 2>&1 < /dev/null) &
  echo $! > "$E2E_DIR/parca.pid"

  # Wait until each answers (bounded), then make the 0.37 API keys.
  for i in $(seq 1 60); do
    if curl -sf -o /dev/null 127.0.0.1:4041/ready && curl -sf -o /dev/null 127.0.0.1:7070/api/profiles/types \
      && curl -s -o /dev/null -w '%{http_code}' 127.0.0.1:4040/label-values | grep -q 401; then
      break
    fi
    sleep 1
  done
  local pw cookies="$E2E_DIR/p037.cookies"
  pw=$(printf e2e-admin-pass | base64)
  curl -sf -c "$cookies" -H 'Content-Type: application/json' \
    -d "{\"username\":\"admin\",\"password\":\"$pw\"}" 127.0.0.1:4040/login
  key() {
    curl -sf -b "$cookies" -H 'Content-Type: application/json' \
      -d "{\"name\":\"$1-$RANDOM\",\"role\":\"$2\",\"ttlSeconds\":86400}" 127.0.0.1:4040/api/keys |
      sed -n 's/.*"key":"\([^"]*\)".*/\1/p'
  }
  local ingest query
  ingest=$(key e2e-ingest Agent)
  query=$(key e2e-query ReadOnly)
  cat <<EOF
# Pyroscope 0.37.2:
export PYROSCOPE_E2E_INGEST_URL=http://127.0.0.1:4040 PYROSCOPE_E2E_INGEST_TOKEN=$ingest PYROSCOPE_E2E_QUERY_TOKEN=$query
# Grafana Pyroscope v1.12.0 (run in a separate shell or after unsetting the 0.37 variables):
#   PYROSCOPE_E2E_INGEST_URL=http://127.0.0.1:4041 PYROSCOPE_E2E_PUSH_URL=http://127.0.0.1:4041
# Parca v0.28.0:
#   PYROSCOPE_E2E_PARCA_ADDR=http://127.0.0.1:7070
EOF
}

stop() {
  for n in p037 gp parca; do
    if [ -f "$E2E_DIR/$n.pid" ]; then
      kill "$(cat "$E2E_DIR/$n.pid")" 2>/dev/null || true
      rm -f "$E2E_DIR/$n.pid"
    fi
  done
}

start_k8s() {
  # etcd on 127.0.0.1:2379 and kube-apiserver on 127.0.0.1:6443, fresh data
  # each time. No kubelet, scheduler or controller manager: pods are bound
  # to a node by spec.nodeName and stay Pending, and a test sets their
  # container statuses through the status subresource. The ServiceAccount
  # admission plugin is off since no controller creates "default" accounts.
  local k=$DATA/k8s
  rm -rf "$k" "$E2E_DIR/kube-apiserver.log"
  mkdir -p "$k/etcd" "$k/pki"
  (cd "$k" && exec nohup "$BIN/etcd" --name e2e --data-dir "$k/etcd" \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster e2e=http://127.0.0.1:2380 > "$E2E_DIR/etcd.log" 2>&1 < /dev/null) &
  echo $! > "$E2E_DIR/etcd.pid"

  # A CA, a serving certificate for 127.0.0.1 signed by it, the
  # service-account signing keys, and two static tokens: an admin
  # (system:masters) and a user with no rights at all.
  local p=$k/pki
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=e2e-ca \
    -keyout "$p/ca.key" -out "$p/ca.crt" 2> /dev/null
  openssl req -newkey rsa:2048 -nodes -subj /CN=kube-apiserver \
    -keyout "$p/apiserver.key" -out "$p/apiserver.csr" 2> /dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > "$p/san.ext"
  openssl x509 -req -in "$p/apiserver.csr" -CA "$p/ca.crt" -CAkey "$p/ca.key" -CAcreateserial \
    -days 2 -extfile "$p/san.ext" -out "$p/apiserver.crt" 2> /dev/null
  openssl genrsa -out "$p/sa.key" 2048 2> /dev/null
  openssl rsa -in "$p/sa.key" -pubout -out "$p/sa.pub" 2> /dev/null
  local admin nobody
  admin=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  nobody=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  printf '%s' "$admin" > "$k/admin.token"
  printf '%s' "$nobody" > "$k/nobody.token"
  printf '%s,e2e-admin,e2e-admin,system:masters\n%s,e2e-nobody,e2e-nobody\n' "$admin" "$nobody" > "$p/tokens.csv"

  for i in $(seq 1 60); do
    curl -sf -o /dev/null http://127.0.0.1:2379/health && break
    sleep 1
  done
  # Started twice: the second start's watch cache begins after the
  # revisions the first one made, so a watch from resourceVersion 1 gets
  # the real "410 Expired" a long-running server gives (the tests record it).
  start_apiserver "$k" "$admin"
  stop_apiserver
  start_apiserver "$k" "$admin"
  cat <<EOF
# kube-apiserver v1.34.4 (etcd v3.6.16):
export PYROSCOPE_E2E_KUBE_SERVER=https://127.0.0.1:6443 PYROSCOPE_E2E_KUBE_CA=$p/ca.crt PYROSCOPE_E2E_KUBE_TOKEN_FILE=$k/admin.token PYROSCOPE_E2E_KUBE_NOBODY_TOKEN_FILE=$k/nobody.token
EOF
}

# start_apiserver DIR ADMIN-TOKEN starts kube-apiserver and waits (bounded)
# until it is ready.
start_apiserver() {
  local k=$1 p=$1/pki
  (cd "$k" && exec nohup "$BIN/kube-apiserver" --etcd-servers=http://127.0.0.1:2379 \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port=6443 \
    --cert-dir="$p" --tls-cert-file="$p/apiserver.crt" --tls-private-key-file="$p/apiserver.key" \
    --token-auth-file="$p/tokens.csv" --authorization-mode=RBAC \
    --service-account-key-file="$p/sa.pub" --service-account-signing-key-file="$p/sa.key" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --disable-admission-plugins=ServiceAccount --profiling=false \
    >> "$E2E_DIR/kube-apiserver.log" 2>&1 < /dev/null) &
  echo $! > "$E2E_DIR/kube-apiserver.pid"
  for i in $(seq 1 180); do
    curl -sf -o /dev/null --cacert "$p/ca.crt" -H "Authorization: Bearer $2" https://127.0.0.1:6443/readyz && return
    sleep 1
  done
  echo "kube-apiserver not ready after 180 s; see $E2E_DIR/kube-apiserver.log" >&2
  return 1
}

# stop_wait NAME ends the server in $E2E_DIR/NAME.pid and waits (bounded)
# until it is gone, so that a new start finds its ports and data free.
stop_wait() {
  local f=$E2E_DIR/$1.pid pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  kill "$pid" 2>/dev/null || true
  for i in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  rm -f "$f"
}

stop_apiserver() { stop_wait kube-apiserver; }

stop_k8s() {
  stop_wait kube-apiserver
  stop_wait etcd
}

case "${1:-}" in
build)
  build_pyroscope_037
  build_pyroscope_v1
  build_parca
  ;;
build-037) build_pyroscope_037 ;;
build-v1) build_pyroscope_v1 ;;
build-parca) build_parca ;;
build-k8s) build_k8s ;;
start-k8s) start_k8s ;;
stop-k8s) stop_k8s ;;
start) start ;;
stop) stop ;;
*)
  echo "usage: $0 build|build-037|build-v1|build-parca|start|stop|build-k8s|start-k8s|stop-k8s" >&2
  exit 2
  ;;
esac
