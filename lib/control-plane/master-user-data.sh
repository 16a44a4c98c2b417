#!/usr/bin/env bash
# K3s-DaaS master bootstrap (rendered by lib/control-plane/master-user-data.ts; settings below).
# Prepares the Nitro Enclaves host, fetches the measured EIF, verifies its SHA-256 against the
# build's pcrs.json value, restricts vsock-proxy to the endpoints the enclave may reach, forwards
# TCP 6443 into the enclave, starts the host agent (the enclave's storage and attestation relay,
# enclave/src/host-agent), and runs the enclave - never in debug mode. Fails closed on any error.
set -euo pipefail

# @@SETTINGS@@

log() { printf '%s k3s-daas-master: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }
die() { log "FATAL: $*"; exit 1; }

readonly ENCLAVE_DIR=/opt/k3s-daas
readonly EIF_PATH="${ENCLAVE_DIR}/k3s-daas.eif"

if [[ -z "${EIF_S3_URI}" ]]; then
  die "no enclave image in this environment (${MISSING_REASON}); the control plane stays down"
fi

log "installing the Nitro Enclaves CLI"
dnf install -y aws-nitro-enclaves-cli aws-nitro-enclaves-cli-devel socat nodejs22
usermod -aG ne ec2-user || true

log "writing the allocator config (${ENCLAVE_CPU_COUNT} vCPU, ${ENCLAVE_MEMORY_MIB} MiB)"
install -d -m 0755 /etc/nitro_enclaves
cat > /etc/nitro_enclaves/allocator.yaml <<ALLOCATOR
---
memory_mib: ${ENCLAVE_MEMORY_MIB}
cpu_count: ${ENCLAVE_CPU_COUNT}
ALLOCATOR
systemctl enable --now nitro-enclaves-allocator.service

log "downloading the enclave image"
install -d -m 0700 "${ENCLAVE_DIR}"
aws s3 cp --only-show-errors --region "${AWS_REGION}" "${EIF_S3_URI}" "${EIF_PATH}.download"
actual_sha256="$(sha256sum "${EIF_PATH}.download" | cut -d' ' -f1)"
if [[ "${actual_sha256}" != "${EIF_SHA256}" ]]; then
  rm -f "${EIF_PATH}.download"
  die "enclave image SHA-256 ${actual_sha256} does not match the expected ${EIF_SHA256}"
fi
mv "${EIF_PATH}.download" "${EIF_PATH}"

log "restricting vsock-proxy to KMS and the platform API"
cat > /etc/nitro_enclaves/vsock-proxy.yaml <<PROXY
allowlist:
- {address: ${KMS_HOST}, port: 443}
- {address: ${API_HOST}, port: 443}
PROXY
write_unit() {
  local name="$1" description="$2" exec_start="$3" service_lines="${4:-Restart=always
RestartSec=2}"
  cat > "/etc/systemd/system/${name}.service" <<UNIT
[Unit]
Description=${description}
After=network-online.target nitro-enclaves-allocator.service
Wants=network-online.target

[Service]
ExecStart=${exec_start}
${service_lines}

[Install]
WantedBy=multi-user.target
UNIT
}
write_unit k3s-daas-vsock-kms "vsock-proxy to KMS for the enclave" \
  "/usr/bin/vsock-proxy ${KMS_VSOCK_PORT} ${KMS_HOST} 443 --config /etc/nitro_enclaves/vsock-proxy.yaml"
write_unit k3s-daas-vsock-api "vsock-proxy to the platform API for the enclave" \
  "/usr/bin/vsock-proxy ${API_VSOCK_PORT} ${API_HOST} 443 --config /etc/nitro_enclaves/vsock-proxy.yaml"
write_unit k3s-daas-apiserver-forward "TCP 6443 to the enclave's kube-apiserver" \
  "/usr/bin/socat TCP-LISTEN:6443,fork,reuseaddr VSOCK-CONNECT:${ENCLAVE_CID}:6443"

log "installing the host agent"
if [[ -z "${HOST_AGENT_S3_URI}" ]]; then
  die "no host agent bundle in this deployment; the enclave could not reach its storage"
fi
aws s3 cp --only-show-errors --region "${AWS_REGION}" "${HOST_AGENT_S3_URI}" "${ENCLAVE_DIR}/host-agent.mjs"
node_bin="$(command -v node-22 || command -v node)" || die "Node.js 22 is not installed (dnf install nodejs22)"
install -d -m 0700 /etc/k3s-daas
(
  umask 077
  cat > /etc/k3s-daas/host-agent.env <<AGENTENV
AWS_REGION=${AWS_REGION}
CLUSTER_ID=${CLUSTER_ID}
CLUSTER_STATE_KEY_ID=${CLUSTER_STATE_KEY_ID}
JOIN_TOKEN_KEY_ID=${JOIN_TOKEN_KEY_ID}
API_URL=${API_URL}
TLS_SANS=${TLS_SANS}
WEBHOOK_SECRET_ARN=${WEBHOOK_SECRET_ARN}
SNAPSHOT_BUCKET=${SNAPSHOT_BUCKET}
TABLE_NAME=${TABLE_NAME}
ENCLAVE_CID=${ENCLAVE_CID}
AGENTENV
)
write_unit k3s-daas-host-agent "K3s-DaaS host agent: enclave storage and attestation relay" \
  "${node_bin} ${ENCLAVE_DIR}/host-agent.mjs" \
  "EnvironmentFile=/etc/k3s-daas/host-agent.env
Restart=always
RestartSec=2"
# No --debug-mode: a debug enclave reports all-zero PCRs and its console is readable by the host.
write_unit k3s-daas-enclave "K3s-DaaS control plane enclave" \
  "/usr/bin/nitro-cli run-enclave --eif-path ${EIF_PATH} --cpu-count ${ENCLAVE_CPU_COUNT} --memory ${ENCLAVE_MEMORY_MIB} --enclave-cid ${ENCLAVE_CID}" \
  "Type=oneshot
RemainAfterExit=yes"

systemctl daemon-reload
systemctl enable --now k3s-daas-vsock-kms k3s-daas-vsock-api k3s-daas-apiserver-forward k3s-daas-host-agent k3s-daas-enclave
log "enclave started (CID ${ENCLAVE_CID})"
