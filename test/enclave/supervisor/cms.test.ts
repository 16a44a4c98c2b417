import { beforeAll, describe, expect, it } from '@jest/globals';
import * as asn1js from 'asn1js';
import fc from 'fast-check';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as pkijs from 'pkijs';
import { CmsError, decryptEnvelopedData, encryptEnvelopedData } from '../../../enclave/src/supervisor/cms';
import { REPO_ROOT } from '../../support/cdk-app';

const NITRO = path.join(REPO_ROOT, 'test', 'fixtures', 'nitro');

/** The vector's key file holds an RSA key; accept PKCS#8 or PKCS#1 DER. */
function loadPrivateKey(der: Buffer): crypto.KeyObject {
  try {
    return crypto.createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } catch {
    return crypto.createPrivateKey({ key: der, format: 'der', type: 'pkcs1' });
  }
}

let keys: crypto.KeyPairKeyObjectResult;
let spki: Buffer;
beforeAll(() => {
  keys = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  spki = keys.publicKey.export({ format: 'der', type: 'spki' });
});

describe('CiphertextForRecipient (CMS EnvelopedData, RSAES-OAEP-SHA256 + AES-256-CBC)', () => {
  it('decrypts the real KMS vector with its recipient key to the known JSON', () => {
    const key = loadPrivateKey(fs.readFileSync(path.join(NITRO, 'kms-recipient-private-key.pkcs8.der')));
    const plaintext = decryptEnvelopedData(fs.readFileSync(path.join(NITRO, 'kms-ciphertext-for-recipient.der')), key).toString('utf8');
    expect(plaintext.startsWith('{"secret":"9779d2b8')).toBe(true);
    expect(JSON.parse(plaintext)).toEqual({ secret: expect.stringMatching(/1dba$/), eth_key: expect.stringMatching(/^25e8/) });
  });

  it('round-trips any payload encrypted for the recipient key', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), (data) => {
        expect(decryptEnvelopedData(encryptEnvelopedData(data, spki), keys.privateKey).equals(Buffer.from(data))).toBe(true);
      }),
      { numRuns: 25 },
    );
  });

  it('refuses a message for another recipient key', () => {
    const other = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    expect(() => decryptEnvelopedData(encryptEnvelopedData(Buffer.from('x'), spki), other.privateKey)).toThrow(CmsError);
    expect(() => decryptEnvelopedData(encryptEnvelopedData(Buffer.from('x'), spki), other.privateKey)).toThrow(/does not decrypt with this recipient key/);
  });

  it('refuses tampered ciphertext (a flipped bit in the encrypted content or the wrapped key)', () => {
    const good = encryptEnvelopedData(Buffer.from('a data key of thirty-two bytes!!'), spki);
    const content = rebuild(good, (env) => {
      const ct = Buffer.from(env.encryptedContentInfo.getEncryptedContent());
      ct[ct.length - 17] ^= 0x01; // last byte of the previous block: flips the padding byte of the last block
      env.encryptedContentInfo.encryptedContent = new asn1js.OctetString({ valueHex: new Uint8Array(ct).buffer });
    });
    expect(() => decryptEnvelopedData(content, keys.privateKey)).toThrow(/content does not decrypt/);
    const wrapped = rebuild(good, (env) => {
      const ktri = env.recipientInfos[0].value as pkijs.KeyTransRecipientInfo;
      const key = Buffer.from(ktri.encryptedKey.valueBlock.valueHexView);
      key[10] ^= 0x01;
      ktri.encryptedKey = new asn1js.OctetString({ valueHex: new Uint8Array(key).buffer });
    });
    expect(() => decryptEnvelopedData(wrapped, keys.privateKey)).toThrow(/content key does not decrypt/);
    expect(decryptEnvelopedData(rebuild(good, () => undefined), keys.privateKey).toString()).toBe('a data key of thirty-two bytes!!');
  });

  it('refuses non-DER input and other CMS content types', () => {
    expect(() => decryptEnvelopedData(Buffer.from('not der'), keys.privateKey)).toThrow(/not DER|not a CMS/);
    const signed = new pkijs.ContentInfo({ contentType: '1.2.840.113549.1.7.2', content: new asn1js.Null() });
    expect(() => decryptEnvelopedData(Buffer.from(signed.toSchema().toBER()), keys.privateKey)).toThrow(/not EnvelopedData/);
  });

  it('refuses RSAES-OAEP with other than SHA-256 (e.g. the SHA-1 default parameters)', () => {
    const der = rebuild(encryptEnvelopedData(Buffer.from('x'), spki), (env) => {
      const ktri = env.recipientInfos[0].value as pkijs.KeyTransRecipientInfo;
      ktri.keyEncryptionAlgorithm = new pkijs.AlgorithmIdentifier({ algorithmId: '1.2.840.113549.1.1.7', algorithmParams: new pkijs.RSAESOAEPParams().toSchema() });
    });
    expect(() => decryptEnvelopedData(der, keys.privateKey)).toThrow(/hash is not SHA-256/);
  });

  it('refuses MGF1 over SHA-1, PKCS#1 v1.5 key transport, other content ciphers, a bad IV and extra recipients', () => {
    const good = encryptEnvelopedData(Buffer.from('x'), spki);
    const sha = (oid: string) => new pkijs.AlgorithmIdentifier({ algorithmId: oid, algorithmParams: new asn1js.Null() });
    const mgf1Sha1 = rebuild(good, (env) => {
      const ktri = env.recipientInfos[0].value as pkijs.KeyTransRecipientInfo;
      const params = new pkijs.RSAESOAEPParams({
        hashAlgorithm: sha('2.16.840.1.101.3.4.2.1'),
        maskGenAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: '1.2.840.113549.1.1.8', algorithmParams: sha('1.3.14.3.2.26').toSchema() }),
      });
      ktri.keyEncryptionAlgorithm = new pkijs.AlgorithmIdentifier({ algorithmId: '1.2.840.113549.1.1.7', algorithmParams: params.toSchema() });
    });
    expect(() => decryptEnvelopedData(mgf1Sha1, keys.privateKey)).toThrow(/MGF1 hash is not SHA-256/);
    const pkcs1 = rebuild(good, (env) => {
      (env.recipientInfos[0].value as pkijs.KeyTransRecipientInfo).keyEncryptionAlgorithm = sha('1.2.840.113549.1.1.1');
    });
    expect(() => decryptEnvelopedData(pkcs1, keys.privateKey)).toThrow(/is not RSAES-OAEP/);
    const aes128 = rebuild(good, (env) => {
      env.encryptedContentInfo.contentEncryptionAlgorithm.algorithmId = '2.16.840.1.101.3.4.1.2';
    });
    expect(() => decryptEnvelopedData(aes128, keys.privateKey)).toThrow(/is not AES-256-CBC/);
    const shortIv = rebuild(good, (env) => {
      env.encryptedContentInfo.contentEncryptionAlgorithm.algorithmParams = new asn1js.OctetString({ valueHex: new Uint8Array(8).buffer });
    });
    expect(() => decryptEnvelopedData(shortIv, keys.privateKey)).toThrow(/IV is missing or not 16 bytes/);
    const twoRecipients = rebuild(good, (env) => {
      env.recipientInfos.push(env.recipientInfos[0]);
    });
    expect(() => decryptEnvelopedData(twoRecipients, keys.privateKey)).toThrow(/exactly one key-transport recipient/);
    expect(decryptEnvelopedData(rebuild(good, () => undefined), keys.privateKey).toString()).toBe('x');
  });
});

/** Parses, lets `mutate` change the EnvelopedData, and re-encodes. */
function rebuild(der: Uint8Array, mutate: (env: pkijs.EnvelopedData) => void): Buffer {
  const info = new pkijs.ContentInfo({ schema: asn1js.fromBER(new Uint8Array(der).buffer).result });
  const enveloped = new pkijs.EnvelopedData({ schema: info.content });
  mutate(enveloped);
  return Buffer.from(new pkijs.ContentInfo({ contentType: info.contentType, content: enveloped.toSchema() }).toSchema().toBER());
}
