#!/usr/bin/env bash
# K3s-DaaS worker bootstrap (rendered by lib/workers/worker-user-data.ts; settings below).
# Prepares the kernel for K3s, installs the pinned K3s binary after checking its SHA-256, asks the
# platform API (POST /v1/nodes/join, SigV4-signed with the instance role) to admit this instance, and
# starts `k3s agent` with the returned server URL and CA-pinning token: a bootstrap token of this node
# alone, which the control plane deletes once the node has registered (the agent reconnects with its
# kubelet certificate afterwards). The token exists only in a 0600 file read by the agent: never in
# user-data, command lines, the environment or the logs.
#
# Every endpoint and path can be overridden through K3S_DAAS_* environment variables so a test can run
# this script unprivileged against local stand-ins; on an instance none of them is set.
set -euo pipefail
umask 077

# @@SETTINGS@@

readonly IMDS_URL="${K3S_DAAS_IMDS_URL:-http://169.254.169.254}"
readonly JOIN_API_URL="${K3S_DAAS_API_URL:-${API_URL}}"
readonly K3S_DOWNLOAD_URL="${K3S_DAAS_K3S_DOWNLOAD_URL:-https://github.com/k3s-io/k3s/releases/download}"
readonly BIN_DIR="${K3S_DAAS_BIN_DIR:-/usr/local/bin}"
readonly K3S_CONFIG_DIR="${K3S_DAAS_K3S_CONFIG_DIR:-/etc/rancher/k3s}"
readonly STATE_DIR="${K3S_DAAS_STATE_DIR:-/etc/k3s-daas}"
readonly SYSTEMD_DIR="${K3S_DAAS_SYSTEMD_DIR:-/etc/systemd/system}"
readonly SYSCTL_DIR="${K3S_DAAS_SYSCTL_DIR:-/etc/sysctl.d}"
readonly MODULES_DIR="${K3S_DAAS_MODULES_DIR:-/etc/modules-load.d}"
readonly SYSTEMCTL="${K3S_DAAS_SYSTEMCTL:-systemctl}"
readonly ARCH="${K3S_DAAS_ARCH:-$(uname -m)}"
readonly JOIN_ATTEMPTS="${K3S_DAAS_JOIN_ATTEMPTS:-40}"
readonly BACKOFF_INITIAL="${K3S_DAAS_BACKOFF_INITIAL:-2}"
readonly BACKOFF_MAX="${K3S_DAAS_BACKOFF_MAX:-60}"
readonly NOT_A_WORKER_ATTEMPTS=3
readonly TOKEN_FILE="${STATE_DIR}/agent-token"
readonly KUBELET_KUBECONFIG=/var/lib/rancher/k3s/agent/kubelet.kubeconfig

log() { printf '%s k3s-daas-worker: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }
die() { log "FATAL: $*"; exit 1; }

WORK_DIR="$(mktemp -d)"
readonly WORK_DIR
trap 'rm -rf "${WORK_DIR}"' EXIT

# The stake id becomes node labels (below): a label value holds at most 63 characters and a Sui id has
# 66, so it is carried as its two 32-hex-digit halves, which the node-operator admission policy joins
# back ('0x' + hi + lo). Checked before anything is installed or joined.
[[ "${STAKE_ID}" =~ ^0x[0-9a-f]{64}$ ]] || die "STAKE_ID ${STAKE_ID} is not a Sui object id (0x + 64 lowercase hex)"

# ---- kernel settings K3s needs (overlay filesystem, bridged traffic through iptables, forwarding) ----
log "configuring kernel modules and sysctls for K3s"
install -d -m 0755 "${MODULES_DIR}" "${SYSCTL_DIR}"
printf 'overlay\nbr_netfilter\n' > "${MODULES_DIR}/k3s-daas.conf"
chmod 0644 "${MODULES_DIR}/k3s-daas.conf"
modprobe overlay
modprobe br_netfilter
cat > "${SYSCTL_DIR}/90-k3s-daas.conf" <<'SYSCTL'
net.bridge.bridge-nf-call-iptables = 1
net.bridge.bridge-nf-call-ip6tables = 1
net.ipv4.ip_forward = 1
SYSCTL
chmod 0644 "${SYSCTL_DIR}/90-k3s-daas.conf"
sysctl --system > /dev/null

# ---- pinned K3s binary, checked against the release checksum from the environment config ----
case "${ARCH}" in
  x86_64 | amd64) k3s_asset=k3s; k3s_sha256="${K3S_SHA256_AMD64}" ;;
  aarch64 | arm64) k3s_asset=k3s-arm64; k3s_sha256="${K3S_SHA256_ARM64}" ;;
  *) die "unsupported architecture ${ARCH}" ;;
esac
log "installing K3s ${K3S_VERSION} (${k3s_asset})"
# GitHub release paths spell the '+' of K3s versions as %2B.
curl -fsSL --retry 5 --retry-connrefused --retry-delay 2 -o "${WORK_DIR}/k3s" \
  "${K3S_DOWNLOAD_URL}/${K3S_VERSION//+/%2B}/${k3s_asset}"
actual_sha256="$(sha256sum "${WORK_DIR}/k3s" | cut -d' ' -f1)"
if [[ "${actual_sha256}" != "${k3s_sha256}" ]]; then
  die "K3s binary SHA-256 ${actual_sha256} does not match the pinned ${k3s_sha256}"
fi
install -d -m 0755 "${BIN_DIR}"
install -m 0755 "${WORK_DIR}/k3s" "${BIN_DIR}/k3s"

# ---- instance identity and role credentials (IMDSv2: a session token on every request) ----
imds_token() {
  curl -fsS --retry 10 --retry-connrefused --retry-delay 1 -X PUT \
    -H 'X-aws-ec2-metadata-token-ttl-seconds: 21600' "${IMDS_URL}/latest/api/token"
}
imds_get() {
  curl -fsS --retry 10 --retry-connrefused --retry-delay 1 \
    -H "X-aws-ec2-metadata-token: ${IMDS_SESSION}" "${IMDS_URL}/latest/meta-data/$1"
}
IMDS_SESSION="$(imds_token)" || die "cannot get an IMDSv2 session token"
INSTANCE_ID="$(imds_get instance-id)" || die "cannot read the instance id"
REGION="$(imds_get placement/region)" || die "cannot read the region"
[[ "${INSTANCE_ID}" =~ ^i-[0-9a-f]{8,17}$ ]] || die "unexpected instance id ${INSTANCE_ID}"
[[ "${REGION}" =~ ^[a-z0-9-]+$ ]] || die "unexpected region ${REGION}"
log "instance ${INSTANCE_ID} in ${REGION}, worker group ${WORKER_GROUP}"

# Writes a curl config holding the role's current credentials (they rotate, so this runs per attempt).
# The secret never reaches a command line, where any local user could read it from /proc.
write_signing_config() {
  local role
  role="$(imds_get iam/security-credentials/ | head -n1)" || return 1
  [[ "${role}" =~ ^[A-Za-z0-9+=,.@_-]+$ ]] || return 1
  imds_get "iam/security-credentials/${role}" > "${WORK_DIR}/credentials.json" || return 1
  python3 - "${WORK_DIR}/credentials.json" "${WORK_DIR}/curl-signing.conf" <<'PY'
import json, os, re, sys
creds = json.load(open(sys.argv[1]))
values = [creds["AccessKeyId"], creds["SecretAccessKey"], creds["Token"]]
if not all(isinstance(v, str) and re.fullmatch(r"[A-Za-z0-9+/=]+", v) for v in values):
    sys.exit("malformed role credentials")
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(fd, "w") as out:
    out.write('user = "%s:%s"\n' % (values[0], values[1]))
    out.write('header = "x-amz-security-token: %s"\n' % values[2])
PY
  rm -f "${WORK_DIR}/credentials.json"
}

# ---- join: POST /v1/nodes/join signed with SigV4 for execute-api, retried with capped backoff ----
# On success the response's token goes straight from the response file into TOKEN_FILE (0600);
# server and node name come back on stdout. Refusals log only their reason code.
install -d -m 0700 "${STATE_DIR}"
joined=''
delay="${BACKOFF_INITIAL}"
for ((attempt = 1; attempt <= JOIN_ATTEMPTS; attempt++)); do
  status='000'
  reason='no answer'
  if write_signing_config; then
    status="$(curl -sS --max-time 20 -o "${WORK_DIR}/join-response.json" -w '%{http_code}' \
      --config "${WORK_DIR}/curl-signing.conf" \
      --aws-sigv4 "aws:amz:${REGION}:execute-api" \
      -H 'content-type: application/json' -X POST --data '{}' \
      "${JOIN_API_URL}/v1/nodes/join" 2> "${WORK_DIR}/curl-error.txt")" || status='000'
    rm -f "${WORK_DIR}/curl-signing.conf"
    if [[ "${status}" == 200 ]]; then
      if joined="$(python3 - "${WORK_DIR}/join-response.json" "${TOKEN_FILE}" <<'PY'
import json, os, re, sys
answer = json.load(open(sys.argv[1]))
server, token, node = answer.get("server"), answer.get("token"), answer.get("nodeName")
if not (isinstance(server, str) and re.fullmatch(r"https://[A-Za-z0-9.:\[\]-]+(/[!-~]*)?", server)):
    sys.exit("the join answer has no valid server URL")
if not (isinstance(token, str) and re.fullmatch(r"K10[0-9a-f]{64}::[a-z0-9]{6}\.[a-z0-9]{16}", token)):
    sys.exit("the join answer has no CA-pinning K10 bootstrap token")
if not (isinstance(node, str) and re.fullmatch(r"i-[0-9a-f]{8,17}", node)):
    sys.exit("the join answer has no valid node name")
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(fd, "w") as out:
    out.write(token)
print(server)
print(node)
PY
      )"; then
        rm -f "${WORK_DIR}/join-response.json"
        log "join attempt ${attempt}/${JOIN_ATTEMPTS}: admitted"
        break
      fi
      reason='malformed answer'
    else
      reason="$(python3 -c 'import json,re,sys
try:
    code = json.load(open(sys.argv[1])).get("error", "")
except Exception:
    code = ""
print(code if re.fullmatch(r"[a-z_]{1,40}", str(code)) else "no reason given")' "${WORK_DIR}/join-response.json" 2> /dev/null || echo 'no reason given')"
      if [[ "${status}" == 000 ]]; then reason="$(head -c 200 "${WORK_DIR}/curl-error.txt" | tr -d '\n')"; fi
    fi
    rm -f "${WORK_DIR}/join-response.json"
  else
    reason='role credentials not available from IMDS yet'
  fi
  joined=''
  # Permanent refusals: retrying cannot change the answer, and a second instance id will be launched instead.
  # not_a_worker is also what EC2's eventually consistent describe calls say about a just-launched
  # instance, so it becomes final only once it has been repeated.
  case "${reason}" in
    already_joined | unknown_caller | instance_not_running)
      die "join attempt ${attempt}/${JOIN_ATTEMPTS}: HTTP ${status} ${reason}; giving up" ;;
    not_a_worker)
      if ((attempt >= NOT_A_WORKER_ATTEMPTS)); then
        die "join attempt ${attempt}/${JOIN_ATTEMPTS}: HTTP ${status} ${reason}; giving up"
      fi ;;
  esac
  if ((attempt == JOIN_ATTEMPTS)); then
    die "join attempt ${attempt}/${JOIN_ATTEMPTS}: HTTP ${status} ${reason}; giving up"
  fi
  log "join attempt ${attempt}/${JOIN_ATTEMPTS}: HTTP ${status} ${reason}; retrying in ${delay}s"
  sleep "${delay}"
  delay=$((delay * 2 > BACKOFF_MAX ? BACKOFF_MAX : delay * 2))
done

SERVER_URL="$(sed -n 1p <<< "${joined}")"
NODE_NAME="$(sed -n 2p <<< "${joined}")"
[[ "${NODE_NAME}" == "${INSTANCE_ID}" ]] || die "the API named this node ${NODE_NAME}, expected ${INSTANCE_ID}"

# ---- agent configuration and services ----
log "starting the K3s agent as ${NODE_NAME} against ${SERVER_URL}"
install -d -m 0755 "${K3S_CONFIG_DIR}"
cat > "${K3S_CONFIG_DIR}/config.yaml" <<CONFIG
# Written by the K3s-DaaS worker bootstrap. The join token is in ${TOKEN_FILE}, not here.
node-label:
  - "k3s-daas.io/cluster=${CLUSTER_ID}"
  - "k3s-daas.io/worker-group=${WORKER_GROUP}"
  - "k3s-daas.io/stake-id-hi=${STAKE_ID:2:32}"
  - "k3s-daas.io/stake-id-lo=${STAKE_ID:34:32}"
kubelet-arg:
  # Graceful node shutdown: on scale-in the kubelet terminates pods before the instance powers off.
  - "shutdown-grace-period=90s"
  - "shutdown-grace-period-critical-pods=20s"
CONFIG
chmod 0600 "${K3S_CONFIG_DIR}/config.yaml"

cat > "${SYSTEMD_DIR}/k3s-agent.service" <<UNIT
[Unit]
Description=K3s agent (K3s-DaaS worker ${NODE_NAME})
Wants=network-online.target
After=network-online.target

[Service]
Type=notify
ExecStart=${BIN_DIR}/k3s agent --server ${SERVER_URL} --token-file ${TOKEN_FILE} --node-name ${NODE_NAME} --config ${K3S_CONFIG_DIR}/config.yaml
KillMode=process
Delegate=yes
LimitNOFILE=1048576
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
TimeoutStartSec=0
Restart=always
RestartSec=5s

[Install]
WantedBy=multi-user.target
UNIT

# Stopped before the agent at shutdown (reverse of After=): the node deletes its own Node object, which
# the Node authorizer and NodeRestriction allow for a kubelet's own node, so it never lingers NotReady.
cat > "${SYSTEMD_DIR}/k3s-daas-leave.service" <<UNIT
[Unit]
Description=Remove this worker's Node object from the cluster when the instance shuts down
After=k3s-agent.service
Requires=k3s-agent.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/true
ExecStop=${BIN_DIR}/k3s kubectl --kubeconfig ${KUBELET_KUBECONFIG} delete node ${NODE_NAME} --wait=false
TimeoutStopSec=60

[Install]
WantedBy=multi-user.target
UNIT

"${SYSTEMCTL}" daemon-reload
"${SYSTEMCTL}" enable --now k3s-agent.service k3s-daas-leave.service
log "K3s agent started"
