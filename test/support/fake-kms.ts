// An in-process AWS KMS for tests of the kubeconfig signing path: a local HTTP server speaking the KMS
// JSON 1.1 wire protocol (`X-Amz-Target: TrentService.<Op>`, base64 blobs) for `Sign` and
// `GetPublicKey` on ECC_NIST_P256 keys (`Sign` with MessageType RAW or DIGEST), backed by node:crypto. Real `KMSClient`s talk to it through
// their `endpoint`, so the SDK's serialization is exercised too. Signatures are DER, like KMS's.
import { createECDH, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeKms {
  readonly endpoint: string;
  /** ARN of the one signing key. */
  readonly keyArn: string;
  readonly publicKey: KeyObject;
  /** Requests received, by operation, for assertions on what the code asked for. */
  readonly calls: { op: string; body: Record<string, unknown> }[];
  stop(): Promise<void>;
}

function fail(res: http.ServerResponse, type: string, message: string): void {
  res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' });
  res.end(JSON.stringify({ __type: type, message }));
}

// P-256 group order.
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const big = (b: Uint8Array) => BigInt(`0x${Buffer.from(b).toString('hex') || '0'}`);
const mod = (a: bigint) => ((a % N) + N) % N;

function inverse(a: bigint): bigint {
  let [r0, r1, s0, s1] = [N, mod(a), 0n, 1n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1, s0, s1] = [r1, r0 - q * r1, s1, s0 - q * s1];
  }
  return mod(s0);
}

function derInteger(v: bigint): Buffer {
  let bytes = Buffer.from(v.toString(16).padStart(64, '0'), 'hex');
  while (bytes.length > 1 && bytes[0] === 0 && bytes[1] < 0x80) bytes = bytes.subarray(1);
  if (bytes[0] >= 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return Buffer.concat([Buffer.from([0x02, bytes.length]), bytes]);
}

/**
 * ECDSA over a SHA-256 digest the caller computed (KMS `MessageType: DIGEST`), which node:crypto cannot
 * do directly: r is the x coordinate of k·G (computed with ECDH), s = k⁻¹(z + r·d) mod n. DER like KMS.
 */
function signP256Digest(digest: Uint8Array, privateKey: KeyObject): Buffer {
  const d = big(Buffer.from(String(privateKey.export({ format: 'jwk' }).d), 'base64url'));
  const z = big(digest);
  for (;;) {
    const k = mod(big(randomBytes(32)));
    if (k === 0n) continue;
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(Buffer.from(k.toString(16).padStart(64, '0'), 'hex'));
    const r = mod(big(ecdh.getPublicKey().subarray(1, 33)));
    const s = mod(inverse(k) * (z + r * d));
    if (r === 0n || s === 0n) continue;
    const body = Buffer.concat([derInteger(r), derInteger(s)]);
    return Buffer.concat([Buffer.from([0x30, body.length]), body]);
  }
}

export async function startFakeKms(opts: { region?: string; account?: string } = {}): Promise<FakeKms> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const keyArn = `arn:aws:kms:${opts.region ?? 'us-east-1'}:${opts.account ?? '111111111111'}:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0`;
  const calls: FakeKms['calls'] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const op = String(req.headers['x-amz-target'] ?? '').replace(/^TrentService\./, '');
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return fail(res, 'SerializationException', 'body is not JSON');
      }
      calls.push({ op, body });
      const keyId = String(body.KeyId ?? '');
      if (keyId !== keyArn && keyId !== keyArn.split('/')[1]) return fail(res, 'NotFoundException', `Key '${keyId}' does not exist`);
      res.setHeader('content-type', 'application/x-amz-json-1.1');
      if (op === 'GetPublicKey') {
        return res.end(
          JSON.stringify({
            KeyId: keyArn,
            PublicKey: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
            KeySpec: 'ECC_NIST_P256',
            KeyUsage: 'SIGN_VERIFY',
            SigningAlgorithms: ['ECDSA_SHA_256'],
          }),
        );
      }
      if (op === 'Sign') {
        if (body.SigningAlgorithm !== 'ECDSA_SHA_256') return fail(res, 'InvalidKeyUsageException', 'unsupported SigningAlgorithm');
        const message = Buffer.from(String(body.Message ?? ''), 'base64');
        const type = body.MessageType ?? 'RAW';
        const answer = (signature: Buffer) =>
          res.end(JSON.stringify({ KeyId: keyArn, Signature: signature.toString('base64'), SigningAlgorithm: 'ECDSA_SHA_256' }));
        if (type === 'RAW') {
          if (message.length === 0 || message.length > 4096) return fail(res, 'ValidationException', 'Message must be 1 to 4096 bytes');
          return answer(sign('sha256', message, { key: privateKey, dsaEncoding: 'der' }));
        }
        if (type === 'DIGEST') {
          if (message.length !== 32) return fail(res, 'ValidationException', 'Digest is invalid length for algorithm ECDSA_SHA_256.');
          return answer(signP256Digest(message, privateKey));
        }
        return fail(res, 'ValidationException', `MessageType ${String(type)} is not supported by the fake`);
      }
      return fail(res, 'UnknownOperationException', `operation ${op} is not supported by the fake`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    keyArn,
    publicKey,
    calls,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
