# The nodes of scripts/cluster.sh (sourced by it). Node i (node-a, node-b, ...) is:
#   - network namespace $NODE_PREFIX-<name> (ums-k8s-<name> in cluster 0), eth0 = $NODE_NET.(10+i) on bridge $NODE_BRIDGE (the control plane is
#     $NODE_NET.1 there), pods on CNI bridge cni0 in 10.245.i.0/24, routes to every other node's pod subnet;
#   - a mount namespace of its own (held by a "holder" process; private propagation, so nothing it mounts
#     reaches the host; a tmpfs on /run) in which its containerd and kubelet run. Inside it the node looks like
#     a standard (kind) node, so that a DaemonSet's hostPaths mean this node's things: /var/lib/kubelet (the
#     kubelet's --root-dir), /run/containerd (containerd's state and socket), /var/lib/ums,
#     /var/lib/containers/storage are the node's own (bind mounts of its directories under $DIR/nodes/<name>);
#     /var/lib/ums being the node's, the cluster's files are seen under $NODE_VIEW there;
#   - cgroup /$NODE_PREFIX-<name> in every v1 hierarchy: the kubelet's cgroupRoot (pods), and "daemons" for
#     containerd, its shims, the kubelet and kube-proxy. `down` kills what is in there, then removes it.
# All files under $DIR/nodes/<name>.

CGROUP_V1=/sys/fs/cgroup
# Where a node's daemons see $DIR (inside the node, /var/lib/ums is the node's own, which hides $DIR)
NODE_VIEW=/run/ums-cluster
# The node's containerd socket where a kind node has it (DaemonSets mount /run/containerd); the host reaches it
# through the symlink $DIR/nodes/<name>/containerd.sock -> /proc/<holder>/root/run/containerd/containerd.sock
NODE_CONTAINERD_SOCKET=/run/containerd/containerd.sock
PAUSE_IMAGE=registry.k8s.io/pause:ums
IMAGE_CACHE=${UMS_K8S_IMAGE_CACHE:-/var/cache/ums/k8s-images}

NODE_LETTERS=(- a b c d e f g h)
node_name() { printf 'node-%s' "${NODE_LETTERS[$1]}"; }
node_index() { local i; for i in "${!NODE_LETTERS[@]}"; do [ "node-${NODE_LETTERS[$i]}" = "$1" ] && echo "$i"; done; return 0; }
node_ip() { printf '%s.%d' "$NODE_NET" $((10 + $1)); }
node_dir() { printf '%s/nodes/%s' "$DIR" "$(node_name "$1")"; }
# the node's directory as its own daemons see it
node_view() { printf '%s/nodes/%s' "$NODE_VIEW" "$(node_name "$1")"; }

cgroup_hierarchies() {
  local h
  for h in "$CGROUP_V1"/*/; do
    h=${h%/}
    [ -f "$h/cgroup.procs" ] && [ "$(basename "$h")" != unified ] && printf '%s\n' "$h"
  done
}

# Puts pid $2 into cgroup $1 (a path under every v1 hierarchy), creating it level by level (a new cpuset
# cgroup has no cpus or mems until given its parent's).
join_cgroup() {
  local path=$1 pid=$2 h level part
  while read -r h; do
    level=$h
    for part in ${path//\// }; do
      if [ ! -d "$level/$part" ]; then
        mkdir "$level/$part"
        if [ -f "$level/cpuset.cpus" ]; then
          cat "$level/cpuset.cpus" > "$level/$part/cpuset.cpus"
          cat "$level/cpuset.mems" > "$level/$part/cpuset.mems"
        fi
      fi
      level=$level/$part
    done
    echo "$pid" > "$level/cgroup.procs"
  done < <(cgroup_hierarchies)
}

# Every pid in cgroup $1 or below, in any hierarchy.
cgroup_pids() {
  local h
  while read -r h; do
    if [ -d "$h$1" ]; then find "$h$1" -name cgroup.procs -exec cat {} + 2>/dev/null || true; fi
  done < <(cgroup_hierarchies) | sort -u
}

# Removes cgroup $1 everywhere, the cgroup2 mount of the hybrid layout included (runc mirrors v1 cgroups there).
remove_cgroup() {
  local h
  for h in $(cgroup_hierarchies) "$CGROUP_V1/unified"; do
    if [ -d "$h$1" ]; then find "$h$1" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
  done
}

# The pause image (the pod sandbox): a static binary that sleeps until signalled, built with the host's
# gcc, packed as an OCI archive by podman (no registry involved), cached.
pause_image() {
  local out=$IMAGE_CACHE/pause.oci.tar
  if [ -f "$out" ]; then printf '%s' "$out"; return; fi
  mkdir -p "$IMAGE_CACHE"
  local tmp
  tmp=$(mktemp -d /tmp/ums-pause.XXXXXX)
  cat > "$tmp/pause.c" <<'C'
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
static void quit(int sig) { (void) sig; _exit(0); }
static void reap(int sig) { (void) sig; while (waitpid(-1, 0, WNOHANG) > 0) {} }
int main(void) {
  signal(SIGINT, quit); signal(SIGTERM, quit); signal(SIGCHLD, reap);
  for (;;) pause();
}
C
  gcc -static -O2 -o "$tmp/pause" "$tmp/pause.c" || fail "could not build the pause binary (gcc -static)"
  printf 'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n' > "$tmp/Containerfile"
  podman build -q -t "$PAUSE_IMAGE" -f "$tmp/Containerfile" "$tmp" >/dev/null || fail "podman build of the pause image failed"
  podman save -q --format oci-archive -o "$out.tmp" "$PAUSE_IMAGE" >/dev/null 2>&1 || fail "podman save of the pause image failed"
  podman rmi -f "$PAUSE_IMAGE" >/dev/null 2>&1 || true
  mv "$out.tmp" "$out"
  rm -rf "$tmp"
  printf '%s' "$out"
}

# A busybox image (the host's busybox-static), for the node check's pods.
busybox_image() {
  local out=$IMAGE_CACHE/busybox.oci.tar
  if [ -f "$out" ]; then printf '%s' "$out"; return; fi
  mkdir -p "$IMAGE_CACHE"
  local tmp applet
  tmp=$(mktemp -d /tmp/ums-busybox.XXXXXX)
  mkdir -p "$tmp/rootfs/bin" "$tmp/rootfs/tmp"
  cp /bin/busybox "$tmp/rootfs/bin/busybox" || fail "/bin/busybox missing (busybox-static; ./ums setup installs it)"
  for applet in sh cat echo sleep nc; do ln -s busybox "$tmp/rootfs/bin/$applet"; done
  printf 'FROM scratch\nCOPY rootfs/ /\nENTRYPOINT ["/bin/sh"]\n' > "$tmp/Containerfile"
  podman build -q -t localhost/ums-busybox:check -f "$tmp/Containerfile" "$tmp" >/dev/null || fail "podman build of the busybox image failed"
  podman save -q --format oci-archive -o "$out.tmp" localhost/ums-busybox:check >/dev/null 2>&1 || fail "podman save failed"
  podman rmi -f localhost/ums-busybox:check >/dev/null 2>&1 || true
  mv "$out.tmp" "$out"
  rm -rf "$tmp"
  printf '%s' "$out"
}

# ./ums cluster check: what the nodes must do for UMS, checked on the running cluster: a pod on node-a reaches
# a pod on node-b and the API server through the "kubernetes" Service, and node-a's kubelet checkpoints a
# running container through its checkpoint API.
nodes_check() {
  [ -S "$(node_dir 1)/containerd.sock" ] && [ -S "$(node_dir 2)/containerd.sock" ] \
    || fail "the check needs two nodes: ./ums cluster up"
  nodes_import "$(busybox_image)" >/dev/null
  local n
  for n in a b; do
    kubectl_admin delete pod "ums-check-$n" --ignore-not-found --grace-period=0 --force >/dev/null 2>&1
    kubectl_admin apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: ums-check-$n, namespace: default}
spec:
  nodeName: node-$n
  terminationGracePeriodSeconds: 0
  containers:
  - name: c
    image: localhost/ums-busybox:check
    imagePullPolicy: Never
    command: ["/bin/sh", "-c", "i=0; while true; do i=\$((i+1)); echo \$i > /tmp/count; echo pong | nc -l -p 8080 -w 1; done"]
EOF
  done
  kubectl_admin wait --for=condition=Ready pod/ums-check-a pod/ums-check-b --timeout=120s >/dev/null \
    || fail "check pods not Ready (kubectl describe pod ums-check-a)"
  say "pods Running: ums-check-a on node-a, ums-check-b on node-b"
  local ip_b answer
  ip_b=$(kubectl_admin get pod ums-check-b -o 'jsonpath={.status.podIP}')
  answer=$(kubectl_admin exec ums-check-a -- sh -c "echo ping | nc -w 3 $ip_b 8080" 2>&1) || true
  [ "$answer" = pong ] || fail "pod on node-a could not reach the pod on node-b at $ip_b:8080 ($answer)"
  say "pod to pod across nodes: ok ($ip_b:8080)"
  kubectl_admin exec ums-check-a -- sh -c "echo | nc -w 3 $SERVICE_IP 443 >/dev/null" \
    || fail "pod on node-a could not reach the API server through the kubernetes Service ($SERVICE_IP:443)"
  say "pod to API server through Service $SERVICE_IP: ok"
  local pki=$DIR/pki started archive
  started=$(date +%s%N)
  archive=$(curl -sS -X POST --max-time 120 --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" -k \
    "https://$(node_ip 1):10250/checkpoint/default/ums-check-a/c") || fail "kubelet checkpoint API call failed"
  printf '%s' "$archive" | grep -q '"items"' || fail "kubelet checkpoint API answered: $archive"
  say "kubelet checkpoint API on node-a: $(( ($(date +%s%N) - started) / 1000000 )) ms, $archive"
  kubectl_admin exec ums-check-a -- cat /tmp/count >/dev/null || fail "container not running after its checkpoint"
  say "container still runs after the checkpoint"
  rm -f "$(node_dir 1)"/kubelet/checkpoints/checkpoint-ums-check-a_*
  kubectl_admin delete pod ums-check-a ums-check-b --grace-period=0 --force >/dev/null 2>&1 || true
  say "check passed"
}

holder_pid() { cat "$(node_dir "$1")/holder.pid" 2>/dev/null; }

# node_start <i> <name> <args...>: a node daemon in the node's network and mount namespace and daemons cgroup
node_start() {
  local i=$1 name=$2; shift 2
  local nd holder
  nd=$(node_dir "$i")
  holder=$(holder_pid "$i")
  # shellcheck disable=SC2016
  setsid sh -c 'for h in "$0"/*/; do [ -f "$h/cgroup.procs" ] && [ "${h%/}" != "$0/unified" ] && echo $$ > "$h$1/cgroup.procs"; done; shift; exec "$@"' \
    "$CGROUP_V1" "/$NODE_PREFIX-$(node_name "$i")/daemons" nsenter --target "$holder" --mount --net -- "$@" \
    </dev/null >>"$nd/logs/$name.log" 2>&1 &
  echo $! > "$nd/$name.pid"
}

node_pki() {
  local i=$1 name ip
  name=$(node_name "$i"); ip=$(node_ip "$i")
  cert "kubelet-$name" "/O=system:nodes/CN=system:node:$name"
  cert "kubelet-serving-$name" "/CN=$name" "DNS:$name,IP:$ip"
  kubeconfig "$(node_dir "$i")/kubelet.kubeconfig" "kubelet-$name" "$NODE_NET.1" "$NODE_VIEW/pki"
  kubeconfig "$(node_dir "$i")/kube-proxy.kubeconfig" kube-proxy "$NODE_NET.1" "$NODE_VIEW/pki"
}

node_network() {
  local i=$1 n name ip ns
  name=$(node_name "$i"); ip=$(node_ip "$i"); ns=$NODE_PREFIX-$name
  ip netns add "$ns"
  ip link add "uk8s$ID_SUFFIX-${name#node-}" type veth peer name eth0 netns "$ns"
  ip link set "uk8s$ID_SUFFIX-${name#node-}" master "$NODE_BRIDGE" up
  ip -n "$ns" addr add "$ip/24" dev eth0
  ip -n "$ns" link set lo up
  ip -n "$ns" link set eth0 up
  ip -n "$ns" route add default via "$NODE_NET.1"
  ip netns exec "$ns" sysctl -q -w net.ipv4.ip_forward=1
  ip netns exec "$ns" sysctl -q -w net.bridge.bridge-nf-call-iptables=1 2>/dev/null || true
  for n in $(seq 1 "$NODES"); do
    [ "$n" = "$i" ] || ip -n "$ns" route add "$POD_NET.$n.0/24" via "$(node_ip "$n")"
  done
  ip route add "$POD_NET.$i.0/24" via "$ip" dev "$NODE_BRIDGE"
}

# The node's configuration files, written on the host into $DIR/nodes/<name>, naming paths as the node's daemons
# see them ($NODE_VIEW for the cluster's files, the standard places for the kubelet's and containerd's).
node_configs() {
  local i=$1 nd nv name ip
  nd=$(node_dir "$i"); nv=$(node_view "$i"); name=$(node_name "$i"); ip=$(node_ip "$i")
  cat > "$nd/cni/10-ums.conflist" <<EOF
{"cniVersion": "1.0.0", "name": "ums-pods", "plugins": [
  {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "dataDir": "$nv/cni-ipam", "ranges": [[{"subnet": "$POD_NET.$i.0/24"}]],
            "routes": [{"dst": "0.0.0.0/0"}]}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}
EOF
  cat > "$nd/containerd.toml" <<EOF
version = 3
root = "$nv/containerd"
state = "/run/containerd"
[grpc]
  address = "$NODE_CONTAINERD_SOCKET"
[ttrpc]
  address = "$NODE_CONTAINERD_SOCKET.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$nv/opt"
[plugins."io.containerd.cri.v1.images"]
  snapshotter = "overlayfs"
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = "$PAUSE_IMAGE"
[plugins."io.containerd.cri.v1.runtime"]
  enable_selinux = false
  netns_mounts_under_state_dir = true
  # this sandbox's capability bounding set has no CAP_SYS_RESOURCE: an oom_score_adj below the current one
  # (the pod sandbox's -998) fails with EPERM in runc init; keep every container at or above containerd's
  restrict_oom_score_adj = true
  # a CreateContainer whose image is a checkpoint image (index/manifest annotation
  # org.criu.checkpoint.container.name) restores it with CRIU; off by default in containerd 2.2
  enable_experimental_restore_via_create = true
  [plugins."io.containerd.cri.v1.runtime".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
        BinaryName = "$RUNC"
        SystemdCgroup = false
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = ["$K8S_BIN/cni"]
    conf_dir = "$nv/cni"
EOF
  cat > "$nd/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $ip
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $NODE_VIEW/pki/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $NODE_VIEW/pki/kubelet-serving-$name.crt
tlsPrivateKeyFile: $NODE_VIEW/pki/kubelet-serving-$name.key
containerRuntimeEndpoint: unix://$NODE_CONTAINERD_SOCKET
cgroupDriver: cgroupfs
cgroupRoot: /$NODE_PREFIX-$name
cgroupsPerQOS: true
failSwapOn: false
failCgroupV1: false
resolvConf: /etc/resolv.conf
podLogsDir: $nv/pod-logs
clusterDomain: cluster.local
podCIDR: $POD_NET.$i.0/24
maxPods: 40
serializeImagePulls: false
imageGCHighThresholdPercent: 100
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%"}
featureGates: {ContainerCheckpoint: true}
# the default -999 needs CAP_SYS_RESOURCE, which this sandbox does not grant
oomScoreAdj: 0
EOF
}

# node_criu_config <dir>: the node's CRIU configuration for runc, bound over /etc/criu in the node's mount
# namespace only (the host's /etc/criu stays an empty mount point). runc hands /etc/criu/runc.conf to CRIU; its
# action script stops a container's processes (SIGSTOP) once CRIU dumped them, before they run again, so a
# consistent pod migration (interface kubelet-consistent) loses nothing the container does after its checkpoint:
# the agent resumes (SIGCONT) or kills it. Restores are untouched (CRIU's leave-stopped would leave every
# restored container stopped too).
node_criu_config() {
  mkdir -p "$1" /etc/criu
  cat > "$1/stop-after-dump.sh" <<'EOF'
#!/bin/sh
[ "$CRTOOLS_SCRIPT_ACTION" = "post-dump" ] && [ -n "$CRTOOLS_INIT_PID" ] || exit 0
cgroup=$(sed -n 's/^[0-9]*:freezer://p' "/proc/$CRTOOLS_INIT_PID/cgroup")
procs=/sys/fs/cgroup/freezer$cgroup/cgroup.procs
[ -n "$cgroup" ] && [ -f "$procs" ] || exit 0
pids=$(cat "$procs")
[ -z "$pids" ] || kill -STOP $pids
EOF
  chmod 755 "$1/stop-after-dump.sh"
  # tcp-close: a container with an open TCP connection can be checkpointed at all (containerd runs runc without
  # --tcp-established, and CRIU refuses a connected socket otherwise); the dump leaves the source's connections
  # as they are (they go on if it resumes), a restore brings them back closed (the pod's IP changed anyway)
  printf 'action-script /etc/criu/stop-after-dump.sh\ntcp-close\n' > "$1/runc.conf"
}

node_up() {
  local i=$1 nd nv name ns
  nd=$(node_dir "$i"); nv=$(node_view "$i"); name=$(node_name "$i"); ns=$NODE_PREFIX-$name
  if [ -n "$(holder_pid "$i")" ] && [ -d "/proc/$(holder_pid "$i")" ]; then say "$name already runs"; return; fi
  mkdir -p "$nd/logs" "$nd/pod-logs" "$nd/cni" "$nd/cni-ipam" "$nd/containerd" "$nd/opt" "$nd/kubelet" \
    "$nd/ums" "$nd/containers-storage"
  node_pki "$i"
  node_network "$i"
  node_configs "$i"
  node_criu_config "$nd/criu"
  # The holder owns the node's mount namespace (entered by every node daemon) and lays out the standard node
  # paths there. The mount points on the host (/var/lib/kubelet, /var/lib/containers/storage) are made once and
  # left: removing a directory that another cluster's node mounts on would unmount it there. /lib/modules too:
  # this VM's kernel has no modules, hence no such directory, and the agent DaemonSet mounts it (type Directory,
  # as any node has it).
  mkdir -p /var/lib/kubelet /var/lib/containers/storage /lib/modules
  # shellcheck disable=SC2016
  setsid nsenter --net="/run/netns/$ns" unshare --mount --propagation private -- sh -c '
      set -e
      mount --make-rshared /
      mount -t tmpfs -o mode=755 ums-node-run /run
      mkdir -p "$1" /run/containerd && mount --bind "$0" "$1"
      mount --bind "$2/ums" /var/lib/ums
      mount --bind "$2/kubelet" /var/lib/kubelet
      mount --bind "$2/containers-storage" /var/lib/containers/storage
      mount --bind "$2/criu" /etc/criu
      exec sleep infinity' "$DIR" "$NODE_VIEW" "$nv" \
    </dev/null >>"$nd/logs/holder.log" 2>&1 &
  echo $! > "$nd/holder.pid"
  join_cgroup "/$NODE_PREFIX-$name/daemons" "$(holder_pid "$i")"
  local deadline=$(( $(date +%s) + 10 ))
  until [ -d "/proc/$(holder_pid "$i")/root$NODE_VIEW/nodes" ]; do
    alive "$(holder_pid "$i")" || fail "$name: the holder of its mount namespace exited (log: $nd/logs/holder.log)"
    [ "$(date +%s)" -lt "$deadline" ] || fail "$name: mount namespace not laid out after 10 s ($nd/logs/holder.log)"
    sleep 0.1
  done
  # the host's path to the node's containerd socket (tests, ./ums cluster import)
  ln -sfn "/proc/$(holder_pid "$i")/root$NODE_CONTAINERD_SOCKET" "$nd/containerd.sock"
  node_start "$i" containerd "$K8S_BIN/containerd" --config "$nv/containerd.toml"
  wait_until "$name containerd" "$K8S_BIN/ctr" --address "$nd/containerd.sock" version
  "$K8S_BIN/ctr" --address "$nd/containerd.sock" -n k8s.io images import --all-platforms "$(pause_image)" >/dev/null \
    || fail "$name: importing the pause image into containerd failed"
  node_start "$i" kubelet "$K8S_BIN/kubelet" --config="$nv/kubelet.yaml" --kubeconfig="$nv/kubelet.kubeconfig" \
    --root-dir=/var/lib/kubelet --hostname-override="$name" --node-ip="$(node_ip "$i")" --v=1
  # --v=2: each rule sync is logged with its time ("SyncProxyRules complete"), the evidence when a client through a
  # Service stalls (a Service's rules come about a second after its pod is Ready: see ServiceReadiness)
  node_start "$i" kube-proxy "$K8S_BIN/kube-proxy" --kubeconfig="$nv/kube-proxy.kubeconfig" \
    --hostname-override="$name" --cluster-cidr="$POD_NET.0.0/16" --proxy-mode=iptables \
    --conntrack-max-per-core=0 --oom-score-adj=0 --metrics-bind-address=127.0.0.1:10249 --v=2
}

# Imports an OCI archive (podman save --format oci-archive) into every node's containerd (namespace k8s.io),
# for pods with imagePullPolicy Never: there is no registry here.
nodes_import() {
  local archive=$1 d
  [ -f "$archive" ] || fail "no such archive: $archive"
  for d in "$DIR"/nodes/node-*; do
    [ -S "$d/containerd.sock" ] || continue
    "$K8S_BIN/ctr" --address "$d/containerd.sock" -n k8s.io images import "$archive" >/dev/null \
      || fail "importing $archive into ${d##*/} failed"
    say "imported $archive into ${d##*/}"
  done
}

node_ready() {
  kubectl_admin get node "$1" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' | grep -qx True
}

nodes_up() {
  [ "$NODES" -gt 0 ] || return 0
  [ -x "$RUNC" ] || fail "runc not found at $RUNC (./ums setup installs it)"
  mkdir -p "$DIR/nodes"
  if ip link show "$NODE_BRIDGE" >/dev/null 2>&1 && [ ! -f "$DIR/nodes/bridge" ]; then
    fail "bridge $NODE_BRIDGE exists but is not this cluster's: another cluster with nodes runs (./ums cluster down there, or UMS_CLUSTER_NODES=0)"
  fi
  if ! ip link show "$NODE_BRIDGE" >/dev/null 2>&1; then
    touch "$DIR/nodes/bridge"
    ip link add "$NODE_BRIDGE" type bridge
    ip addr add "$NODE_NET.1/24" dev "$NODE_BRIDGE"
    ip link set "$NODE_BRIDGE" up
  fi
  cert kube-proxy "/CN=system:kube-proxy"
  local i
  for i in $(seq 1 "$NODES"); do node_up "$i"; done
  for i in $(seq 1 "$NODES"); do
    wait_until "$(node_name "$i") Ready" node_ready "$(node_name "$i")"
  done
}

node_down() {
  local i=$1 nd name pids round
  nd=$(node_dir "$i"); name=$(node_name "$i")
  for round in $(seq 1 50); do
    pids=$(cgroup_pids "/$NODE_PREFIX-$name")
    [ -n "$pids" ] || break
    # shellcheck disable=SC2086
    kill -9 $pids 2>/dev/null || true
    sleep 0.1
  done
  [ -z "$(cgroup_pids "/$NODE_PREFIX-$name")" ] || say "WARNING: processes left in cgroup /$NODE_PREFIX-$name"
  local holder
  holder=$(holder_pid "$i")
  [ -n "$holder" ] && kill -9 "$holder" 2>/dev/null || true
  remove_cgroup "/$NODE_PREFIX-$name"
  ip netns delete "$NODE_PREFIX-$name" 2>/dev/null || true
  ip link delete "uk8s$ID_SUFFIX-${name#node-}" 2>/dev/null || true
  say "stopped $name"
}

nodes_down() {
  local d i
  for d in "$DIR"/nodes/node-*; do
    [ -d "$d" ] || continue
    i=$(node_index "${d##*/}")
    [ -n "$i" ] && node_down "$i"
  done
  if [ -f "$DIR/nodes/bridge" ]; then ip link delete "$NODE_BRIDGE" 2>/dev/null || true; fi
}
