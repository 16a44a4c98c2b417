// The pure parts of cli/k3s-agent.ts: which release asset a machine gets and from where, and the unit and
// config files node join writes (the systemd path itself needs root and systemd, absent here).
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { ConfigError } from '../../cli/errors';
import { agentConfigYaml, agentUnit, detectSystemd, k3sAsset } from '../../cli/k3s-agent';
import { K3S_RELEASE } from '../../lambdas/shared/nodes/k3s-release';
import { makeHarness } from './sui-cli-harness';

describe('K3s agent helpers', () => {
  it('picks the release asset and checksum per architecture, from GitHub releases by default', () => {
    expect(k3sAsset(K3S_RELEASE, 'x64')).toEqual({
      version: 'v1.34.2+k3s1', name: 'k3s', sha256: K3S_RELEASE.sha256Amd64,
      url: 'https://github.com/k3s-io/k3s/releases/download/v1.34.2%2Bk3s1/k3s',
    });
    expect(k3sAsset(K3S_RELEASE, 'arm64', 'https://mirror.example.com/k3s/')).toMatchObject({
      name: 'k3s-arm64', sha256: K3S_RELEASE.sha256Arm64, url: 'https://mirror.example.com/k3s/v1.34.2%2Bk3s1/k3s-arm64',
    });
    expect(() => k3sAsset(K3S_RELEASE, 'ia32')).toThrow(ConfigError);
  });

  it('writes the agent config with the assigned name, labels and taints', () => {
    const yaml = agentConfigYaml({ server: 'https://nlb.example:6443', token: 'K10abc::id.secret', nodeName: 'ext-1', labels: { 'k3s-daas.io/node-kind': 'external' }, taints: ['k3s-daas.io/external=true:NoSchedule'] });
    expect(parse(yaml)).toEqual({
      server: 'https://nlb.example:6443', token: 'K10abc::id.secret', 'node-name': 'ext-1',
      'node-label': ['k3s-daas.io/node-kind=external'], 'node-taint': ['k3s-daas.io/external=true:NoSchedule'],
    });
  });

  it('the unit runs `k3s agent --config` and restarts it', () => {
    const unit = agentUnit('/usr/local/bin/k3s', '/etc/rancher/k3s/config.yaml');
    expect(unit).toContain('\nExecStart=/usr/local/bin/k3s agent --config /etc/rancher/k3s/config.yaml\n');
    expect(unit).toContain('\nRestart=always\n');
    expect(unit).toContain('\nWantedBy=multi-user.target\n');
  });

  it('without systemctl on PATH there is no systemd to start the agent with, and it says why', async () => {
    const { ctx } = await makeHarness({ PATH: '' });
    const systemd = await detectSystemd(ctx);
    expect(systemd.running).toBe(false);
    expect(systemd.running ? '' : systemd.why).toMatch(/systemd is not running on this machine|systemctl is not on PATH/);
  });
});
