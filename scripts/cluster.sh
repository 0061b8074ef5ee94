#!/usr/bin/env bash
# A real Kubernetes control plane on this machine, built by scripts/k8s-build.sh (./ums cluster ...):
#
#   ./ums cluster up       etcd, kube-apiserver (TLS, client certificates, ServiceAccount tokens signed by the
#                          API server, authorization Node,RBAC), kube-controller-manager, kube-scheduler;
#                          waits until ready
#   ./ums cluster status   what runs, and the API server's /version and /readyz
#   ./ums cluster down     stops every process it started and removes every file it made
#   ./ums cluster check    pod to pod across nodes, pod to API server (Service), the kubelet checkpoint API
#   ./ums cluster import <oci-archive>   loads an image into every node's containerd (pods: imagePullPolicy Never)
#
# Everything lives under $UMS_CLUSTER_DIR (default /var/lib/ums/cluster): certificates, etcd's data, logs,
# pid files and admin.kubeconfig (KUBECONFIG=$UMS_CLUSTER_DIR/admin.kubeconfig kubectl ...). Ports derive from
# $UMS_CLUSTER_PORT_BASE (default 16440): API server = base, etcd client = base+1, etcd peer = base+2, so a test
# suite can run its own cluster next to the default one.
# $UMS_CLUSTER_ID (0-9, default 0) names a whole cluster with nodes: its state directory, ports, node bridge,
# node and pod subnets, namespaces and cgroups all derive from it, so clusters with different ids run side by
# side on one machine (id 0 keeps the names below).
set -euo pipefail

UMS_HOME=$(cd "$(dirname "$0")/.." && pwd)
K8S_BIN=${UMS_K8S_PREFIX:-/opt/ums/k8s}/bin
CLUSTER_ID=${UMS_CLUSTER_ID:-0}
[[ "$CLUSTER_ID" =~ ^[0-9]$ ]] || { echo "[cluster] ERROR: UMS_CLUSTER_ID must be 0-9, not '$CLUSTER_ID'" >&2; exit 2; }
ID_SUFFIX=${CLUSTER_ID#0}        # "" for cluster 0, so its names stay as they were
DIR=${UMS_CLUSTER_DIR:-/var/lib/ums/cluster${ID_SUFFIX:+-$ID_SUFFIX}}
PORT_BASE=${UMS_CLUSTER_PORT_BASE:-$((16440 + 10 * CLUSTER_ID))}
API_PORT=$PORT_BASE
ETCD_PORT=$((PORT_BASE + 1))
ETCD_PEER_PORT=$((PORT_BASE + 2))
API_ADDRESS=127.0.0.1
SERVICE_CIDR=10.96.0.0/16
SERVICE_IP=10.96.0.1
READY_TIMEOUT=${UMS_CLUSTER_READY_TIMEOUT:-180}
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler)
# Nodes (0 = control plane only): node-a, node-b, ... each a network namespace on bridge $NODE_BRIDGE.
NODES=${UMS_CLUSTER_NODES:-2}
NODE_BRIDGE=umsk8s$CLUSTER_ID
NODE_NET=172.31.$((240 + CLUSTER_ID))   # .1 = the control plane on the bridge, .11, .12, ... = the nodes
POD_NET=10.$((245 + CLUSTER_ID))        # node i's pods: 10.245.i.0/24 in cluster 0
NODE_PREFIX=ums-k8s$ID_SUFFIX           # node namespaces and cgroups: ums-k8s-node-a in cluster 0

# the runc scripts/k8s-build.sh builds (bookworm's 1.1.5 cannot start containerd 2.2's sandboxes)
RUNC=${UMS_RUNC:-$K8S_BIN/runc}

say()  { printf '[cluster] %s\n' "$*"; }
fail() { printf '[cluster] ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "must run as root (the cluster's nodes need network namespaces and mounts)"

# --- processes ------------------------------------------------------------------------------------------

# pid of a component if it runs (a zombie, left to this sandbox's init that does not reap, does not count).
running_pid() {
  local pidfile=$DIR/run/$1.pid pid state
  [ -f "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  [ -r "/proc/$pid/stat" ] || return 1
  state=$(sed 's/^.*) \(.\).*/\1/' "/proc/$pid/stat")
  [ "$state" != Z ] || return 1
  # the pid may have been reused by something else: it must be our binary (or the one a rebuild replaced)
  local exe
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  [ "${exe% (deleted)}" = "$K8S_BIN/$1" ] || return 1
  printf '%s' "$pid"
}

# whether a pid runs (right after start it may still be setsid, before the exec of the component)
alive() {
  [ -r "/proc/$1/stat" ] && [ "$(sed 's/^.*) \(.\).*/\1/' "/proc/$1/stat")" != Z ]
}

# start <name> <args...>: a daemon in its own session, logging to $DIR/logs/<name>.log
start() {
  local name=$1; shift
  if running_pid "$name" >/dev/null; then say "$name already runs"; return; fi
  setsid "$K8S_BIN/$name" "$@" </dev/null >>"$DIR/logs/$name.log" 2>&1 &
  echo $! > "$DIR/run/$name.pid"
}

stop() {
  local name=$1 pid i
  pid=$(running_pid "$name") || { rm -f "$DIR/run/$name.pid"; return 0; }
  kill "$pid" 2>/dev/null || true
  for i in $(seq 1 100); do
    running_pid "$name" >/dev/null || break
    sleep 0.1
  done
  if running_pid "$name" >/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
  rm -f "$DIR/run/$name.pid"
  say "stopped $name ($pid)"
}

# --- certificates ---------------------------------------------------------------------------------------

# cert <name> <subject> [<subjectAltName>]: a key and a certificate signed by the cluster CA
cert() {
  local name=$1 subject=$2 san=${3:-} pki=$DIR/pki
  [ -f "$pki/$name.crt" ] && return
  openssl req -newkey rsa:2048 -nodes -keyout "$pki/$name.key" -subj "$subject" -out "$pki/$name.csr" 2>/dev/null
  local ext=$pki/$name.ext
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n' > "$ext"
  if [ -n "$san" ]; then
    printf 'extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=%s\n' "$san" >> "$ext"
  else
    printf 'extendedKeyUsage=clientAuth\n' >> "$ext"
  fi
  openssl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 30 -sha256 -extfile "$ext" -out "$pki/$name.crt" 2>/dev/null
  rm -f "$pki/$name.csr" "$ext"
}

make_pki() {
  local pki=$DIR/pki
  mkdir -p "$pki"
  chmod 700 "$pki"
  if [ ! -f "$pki/ca.crt" ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$pki/ca.key" -days 30 -sha256 \
      -subj "/CN=ums-cluster-ca" -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" -out "$pki/ca.crt" 2>/dev/null
  fi
  cert apiserver "/CN=kube-apiserver" \
    "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,IP:127.0.0.1,IP:$SERVICE_IP,IP:$NODE_NET.1"
  cert admin "/O=system:masters/CN=ums-cluster-admin"
  cert controller-manager "/CN=system:kube-controller-manager"
  cert scheduler "/CN=system:kube-scheduler"
  # the API server's identity towards kubelets (logs, exec, the checkpoint API): bound to system:kubelet-api-admin
  cert apiserver-kubelet-client "/CN=kube-apiserver-kubelet-client"
  if [ ! -f "$pki/sa.key" ]; then
    openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
    openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
  fi
}

# kubeconfig <file> <client cert name> [<API server address> [<pki dir as its reader sees it>]]
kubeconfig() {
  local file=$1 name=$2 server=${3:-$API_ADDRESS} pki=${4:-$DIR/pki}
  cat > "$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: ums
  cluster:
    server: https://$server:$API_PORT
    certificate-authority: $pki/ca.crt
users:
- name: $name
  user:
    client-certificate: $pki/$name.crt
    client-key: $pki/$name.key
contexts:
- name: ums
  context: {cluster: ums, user: $name}
current-context: ums
EOF
  chmod 600 "$file"
}

# shellcheck source=cluster-nodes.sh
. "$UMS_HOME/scripts/cluster-nodes.sh"

# --- commands -------------------------------------------------------------------------------------------

api_get() {
  curl -sS --max-time 5 --cacert "$DIR/pki/ca.crt" --cert "$DIR/pki/admin.crt" --key "$DIR/pki/admin.key" \
    "https://$API_ADDRESS:$API_PORT$1"
}

wait_until() {
  local what=$1 deadline=$(( $(date +%s) + READY_TIMEOUT )); shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "$what not ready after ${READY_TIMEOUT}s (logs: $DIR/logs)"
    local c
    for c in "${COMPONENTS[@]}"; do
      if [ -f "$DIR/run/$c.pid" ] && ! alive "$(cat "$DIR/run/$c.pid")"; then
        tail -n 20 "$DIR/logs/$c.log" >&2 || true
        fail "$c exited while waiting for $what (log: $DIR/logs/$c.log)"
      fi
    done
    sleep 0.5
  done
}

api_ready() { [ "$(api_get /readyz)" = ok ]; }

up() {
  local started b
  started=$(date +%s%N)
  for b in "${COMPONENTS[@]}" kubectl; do
    [ -x "$K8S_BIN/$b" ] || fail "$K8S_BIN/$b missing: run scripts/k8s-build.sh (./ums setup builds it)"
  done
  mkdir -p "$DIR/run" "$DIR/logs" "$DIR/etcd"
  chmod 700 "$DIR/etcd"
  make_pki
  kubeconfig "$DIR/admin.kubeconfig" admin
  kubeconfig "$DIR/controller-manager.kubeconfig" controller-manager
  kubeconfig "$DIR/scheduler.kubeconfig" scheduler
  local pki=$DIR/pki

  start etcd --name ums --data-dir "$DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "ums=http://127.0.0.1:$ETCD_PEER_PORT" --log-level warn
  wait_until etcd curl -sf --max-time 2 "http://127.0.0.1:$ETCD_PORT/health"

  # With nodes, the API server listens on the node bridge too (kubelets and pods reach it at $NODE_NET.1).
  # Without nodes it stays on loopback, which the "kubernetes" Service's endpoints may not hold: no reconciler.
  local bind=127.0.0.1 advertise=127.0.0.1 reconciler=none
  if [ "$NODES" -gt 0 ]; then bind=0.0.0.0 advertise=$NODE_NET.1 reconciler=lease; fi
  start kube-apiserver --advertise-address="$advertise" --bind-address="$bind" --secure-port="$API_PORT" \
    --endpoint-reconciler-type="$reconciler" \
    --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
    --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" --client-ca-file="$pki/ca.crt" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
    --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction --allow-privileged=true \
    --anonymous-auth=false --service-cluster-ip-range="$SERVICE_CIDR" \
    --kubelet-client-certificate="$pki/apiserver-kubelet-client.crt" \
    --kubelet-client-key="$pki/apiserver-kubelet-client.key" \
    --kubelet-preferred-address-types=InternalIP --profiling=false --v=1
  wait_until kube-apiserver api_ready

  start kube-controller-manager --kubeconfig="$DIR/controller-manager.kubeconfig" \
    --authentication-kubeconfig="$DIR/controller-manager.kubeconfig" \
    --authorization-kubeconfig="$DIR/controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port=0 --leader-elect=false \
    --service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt" \
    --use-service-account-credentials=true \
    --cluster-signing-cert-file="$pki/ca.crt" --cluster-signing-key-file="$pki/ca.key" \
    --service-cluster-ip-range="$SERVICE_CIDR" --profiling=false --v=1
  start kube-scheduler --kubeconfig="$DIR/scheduler.kubeconfig" \
    --authentication-kubeconfig="$DIR/scheduler.kubeconfig" --authorization-kubeconfig="$DIR/scheduler.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port=0 --leader-elect=false --profiling=false --v=1
  # The root CA publisher (a controller-manager controller) writes kube-root-ca.crt into every namespace.
  wait_until "kube-controller-manager (kube-root-ca.crt in namespace default)" \
    api_get_ok /api/v1/namespaces/default/configmaps/kube-root-ca.crt
  kubectl_admin apply -f - >/dev/null <<'EOF'
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: ums-apiserver-kubelet-client
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:kubelet-api-admin}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: kube-apiserver-kubelet-client}
EOF
  nodes_up
  say "up in $(( ($(date +%s%N) - started) / 1000000 )) ms: API server https://$API_ADDRESS:$API_PORT ($(api_version))"
  say "KUBECONFIG=$DIR/admin.kubeconfig $K8S_BIN/kubectl get --raw /readyz"
}

api_get_ok() {
  curl -sf --max-time 5 --cacert "$DIR/pki/ca.crt" --cert "$DIR/pki/admin.crt" --key "$DIR/pki/admin.key" \
    "https://$API_ADDRESS:$API_PORT$1"
}

api_version() { api_get /version | sed -n 's/.*"gitVersion": "\([^"]*\)".*/\1/p'; }

kubectl_admin() { "$K8S_BIN/kubectl" --kubeconfig "$DIR/admin.kubeconfig" "$@"; }

status() {
  local c pid any=0
  for c in "${COMPONENTS[@]}"; do
    if pid=$(running_pid "$c"); then
      say "$c: running (pid $pid)"; any=1
    else
      say "$c: not running"
    fi
  done
  [ $any = 1 ] || { say "cluster is down ($DIR)"; return 3; }
  if api_ready; then
    say "API server https://$API_ADDRESS:$API_PORT ready, version $(api_version); kubeconfig $DIR/admin.kubeconfig"
    kubectl_admin get nodes -o wide 2>/dev/null || true
  else
    say "API server https://$API_ADDRESS:$API_PORT not ready"; return 1
  fi
}

down() {
  local c i
  nodes_down
  for (( i=${#COMPONENTS[@]}-1; i>=0; i-- )); do
    stop "${COMPONENTS[$i]}"
  done
  rm -rf "$DIR"
  say "down: removed $DIR"
}

case "${1:-}" in
  up)     up ;;
  down)   down ;;
  status) status ;;
  check)  nodes_check ;;
  import) [ $# -eq 2 ] || { echo "usage: ./ums cluster import <oci-archive>" >&2; exit 2; }; nodes_import "$2" ;;
  *)      echo "usage: ./ums cluster up|down|status|check|import <oci-archive>" >&2; exit 2 ;;
esac
