#!/bin/sh
# Enclave entry point. An enclave boots with its loopback interface down and no other network;
# the supervisor's bridges listen on 127.0.0.1-3, so bring up lo with the whole 127/8 first.
set -eu
ip addr add 127.0.0.1/8 dev lo 2>/dev/null || true
ip link set dev lo up
mkdir -p /run/k3s-daas /etc/rancher/k3s
chmod 0700 /run/k3s-daas /etc/rancher/k3s
export HOME=/root
exec node /opt/k3s-daas/supervisor.mjs
