// A K3s-like cluster CA (self-signed EC P-256 CA certificate) for kubeconfig and attestation tests.
import * as asn1js from 'asn1js';
import { createHash, webcrypto, X509Certificate } from 'node:crypto';
import * as pkijs from 'pkijs';
import type { AttestationRecord } from '../../lambdas/shared/index/index-model';
import { TEST_PLATFORM_SETTINGS, TEST_SETTINGS } from './enclave-settings';

const engine = new pkijs.CryptoEngine({ name: 'cluster-ca', crypto: webcrypto as unknown as ConstructorParameters<typeof pkijs.CryptoEngine>[0]['crypto'] });

export async function createClusterCaPem(cn = 'k3s-server-ca@1700000000'): Promise<string> {
  const keys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = new pkijs.Certificate();
  cert.version = 2;
  cert.serialNumber = new asn1js.Integer({ value: 1 });
  const name = new pkijs.RelativeDistinguishedNames({
    typesAndValues: [new pkijs.AttributeTypeAndValue({ type: '2.5.4.3', value: new asn1js.Utf8String({ value: cn }) })],
  });
  cert.subject = name;
  cert.issuer = name;
  cert.notBefore.value = new Date(Date.now() - 86_400_000);
  cert.notAfter.value = new Date(Date.now() + 10 * 365 * 86_400_000);
  const basic = new pkijs.BasicConstraints({ cA: true });
  cert.extensions = [new pkijs.Extension({ extnID: '2.5.29.19', critical: true, extnValue: basic.toSchema().toBER(false), parsedValue: basic })];
  await cert.subjectPublicKeyInfo.importKey(keys.publicKey, engine);
  await cert.sign(keys.privateKey, 'SHA-256', engine);
  const der = Buffer.from(cert.toSchema(true).toBER(false));
  return `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{1,64}/g, '$&\n')}-----END CERTIFICATE-----\n`;
}

/** A verified-attestation record for `caCertPem`, produced a minute before `now` (fixture PCRs). */
export function attestationRecordFor(caCertPem: string, now: Date): AttestationRecord {
  return {
    pcrs: { PCR0: 'aa'.repeat(48), PCR1: 'bb'.repeat(48), PCR2: 'cc'.repeat(48) },
    caSha256: createHash('sha256').update(new X509Certificate(caCertPem).raw).digest('hex'),
    caCertPem,
    moduleId: 'i-0123-enc0123',
    timestamp: new Date(now.getTime() - 60_000).toISOString(),
    verifiedAt: new Date(now.getTime() - 59_000).toISOString(),
    settingsSha256: TEST_PLATFORM_SETTINGS.digest.toString('hex'),
    settings: TEST_SETTINGS,
    snapshotSeq: 0,
    snapshotSha256: '00'.repeat(32),
    document: 'AAAA',
  };
}
