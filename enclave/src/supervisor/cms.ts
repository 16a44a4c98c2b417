// Opens KMS `CiphertextForRecipient`: a CMS EnvelopedData (RFC 5652) with one KeyTransRecipientInfo
// whose content key is wrapped with RSAES-OAEP (SHA-256, MGF1-SHA-256) for the enclave's recipient key,
// and the payload encrypted with AES-256-CBC. Only that combination is accepted: anything else is a
// malformed or foreign message and is refused.
import * as asn1js from 'asn1js';
import * as crypto from 'node:crypto';
import * as pkijs from 'pkijs';

export const OID = {
  envelopedData: '1.2.840.113549.1.7.3',
  data: '1.2.840.113549.1.7.1',
  rsaesOaep: '1.2.840.113549.1.1.7',
  sha256: '2.16.840.1.101.3.4.2.1',
  mgf1: '1.2.840.113549.1.1.8',
  aes256Cbc: '2.16.840.1.101.3.4.1.42',
} as const;

export class CmsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CmsError';
  }
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

function parseEnvelopedData(der: Uint8Array): pkijs.EnvelopedData {
  const asn1 = asn1js.fromBER(toArrayBuffer(der));
  if (asn1.offset === -1) throw new CmsError('CiphertextForRecipient is not DER');
  try {
    const info = new pkijs.ContentInfo({ schema: asn1.result });
    if (info.contentType !== OID.envelopedData) throw new CmsError(`CMS content type ${info.contentType} is not EnvelopedData`);
    return new pkijs.EnvelopedData({ schema: info.content });
  } catch (err) {
    if (err instanceof CmsError) throw err;
    throw new CmsError(`CiphertextForRecipient is not a CMS EnvelopedData: ${(err as Error).message}`);
  }
}

/** RSAES-OAEP parameters must name SHA-256 for both the hash and MGF1 (RFC 4055 defaults are SHA-1). */
function checkOaepSha256(alg: pkijs.AlgorithmIdentifier): void {
  if (alg.algorithmId !== OID.rsaesOaep) throw new CmsError(`key encryption ${alg.algorithmId} is not RSAES-OAEP`);
  let params: pkijs.RSAESOAEPParams;
  try {
    params = new pkijs.RSAESOAEPParams({ schema: alg.algorithmParams });
  } catch {
    throw new CmsError('RSAES-OAEP parameters are malformed');
  }
  if (params.hashAlgorithm.algorithmId !== OID.sha256) throw new CmsError('RSAES-OAEP hash is not SHA-256');
  if (params.maskGenAlgorithm.algorithmId !== OID.mgf1) throw new CmsError('RSAES-OAEP mask generation is not MGF1');
  const mgfHash = new pkijs.AlgorithmIdentifier({ schema: params.maskGenAlgorithm.algorithmParams });
  if (mgfHash.algorithmId !== OID.sha256) throw new CmsError('RSAES-OAEP MGF1 hash is not SHA-256');
}

/** Decrypts a KMS `CiphertextForRecipient` with the recipient's RSA private key. */
export function decryptEnvelopedData(der: Uint8Array, privateKey: crypto.KeyObject): Buffer {
  const enveloped = parseEnvelopedData(der);
  const transports = enveloped.recipientInfos.filter((r) => r.variant === 1).map((r) => r.value as pkijs.KeyTransRecipientInfo);
  if (transports.length !== 1 || enveloped.recipientInfos.length !== 1) {
    throw new CmsError(`expected exactly one key-transport recipient, found ${enveloped.recipientInfos.length} recipient(s)`);
  }
  const ktri = transports[0];
  checkOaepSha256(ktri.keyEncryptionAlgorithm);

  let contentKey: Buffer;
  try {
    contentKey = crypto.privateDecrypt(
      { key: privateKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      Buffer.from(ktri.encryptedKey.valueBlock.valueHexView),
    );
  } catch {
    throw new CmsError('content key does not decrypt with this recipient key');
  }
  if (contentKey.length !== 32) throw new CmsError(`content key is ${contentKey.length} bytes, AES-256 needs 32`);

  const eci = enveloped.encryptedContentInfo;
  if (eci.contentEncryptionAlgorithm.algorithmId !== OID.aes256Cbc) {
    throw new CmsError(`content encryption ${eci.contentEncryptionAlgorithm.algorithmId} is not AES-256-CBC`);
  }
  const ivParam = eci.contentEncryptionAlgorithm.algorithmParams;
  if (!(ivParam instanceof asn1js.OctetString) || ivParam.valueBlock.valueHexView.length !== 16) {
    throw new CmsError('AES-256-CBC IV is missing or not 16 bytes');
  }
  if (!eci.encryptedContent) throw new CmsError('EnvelopedData carries no encrypted content');
  const ciphertext = Buffer.from(eci.getEncryptedContent());
  try {
    const decipher = crypto.createDecipheriv('aes-256-cbc', contentKey, Buffer.from(ivParam.valueBlock.valueHexView));
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch {
    throw new CmsError('content does not decrypt (bad padding: tampered or wrong key)');
  }
}

/**
 * Builds the EnvelopedData KMS would return for `recipientPublicKey` (DER SPKI). The supervisor never
 * needs this; tests and the fake KMS do, and keeping it next to the decoder keeps both sides of the
 * format in one file.
 */
export function encryptEnvelopedData(plaintext: Uint8Array, recipientPublicKey: Uint8Array): Buffer {
  const publicKey = crypto.createPublicKey({ key: Buffer.from(recipientPublicKey), format: 'der', type: 'spki' });
  const contentKey = crypto.randomBytes(32);
  const iv = crypto.randomBytes(16);
  const cipher = crypto.createCipheriv('aes-256-cbc', contentKey, iv);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const encryptedKey = crypto.publicEncrypt({ key: publicKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, contentKey);
  const sha256 = new pkijs.AlgorithmIdentifier({ algorithmId: OID.sha256, algorithmParams: new asn1js.Null() });
  const oaepParams = new pkijs.RSAESOAEPParams({
    hashAlgorithm: sha256,
    maskGenAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: OID.mgf1, algorithmParams: sha256.toSchema() }),
  });
  const ski = crypto.createHash('sha256').update(publicKey.export({ format: 'der', type: 'spki' })).digest();
  const ktri = new pkijs.KeyTransRecipientInfo({
    version: 2,
    rid: new asn1js.OctetString({ valueHex: toArrayBuffer(ski) }),
    keyEncryptionAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: OID.rsaesOaep, algorithmParams: oaepParams.toSchema() }),
    encryptedKey: new asn1js.OctetString({ valueHex: toArrayBuffer(encryptedKey) }),
  });
  const enveloped = new pkijs.EnvelopedData({
    version: 2,
    recipientInfos: [new pkijs.RecipientInfo({ variant: 1, value: ktri })],
    encryptedContentInfo: new pkijs.EncryptedContentInfo({
      contentType: OID.data,
      contentEncryptionAlgorithm: new pkijs.AlgorithmIdentifier({
        algorithmId: OID.aes256Cbc,
        algorithmParams: new asn1js.OctetString({ valueHex: toArrayBuffer(iv) }),
      }),
      encryptedContent: new asn1js.OctetString({ valueHex: toArrayBuffer(ciphertext) }),
    }),
  });
  const info = new pkijs.ContentInfo({ contentType: OID.envelopedData, content: enveloped.toSchema() });
  return Buffer.from(info.toSchema().toBER());
}
