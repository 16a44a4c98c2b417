// An in-process AWS KMS for tests of the kubeconfig signing path: a local HTTP server speaking the KMS
// JSON 1.1 wire protocol (`X-Amz-Target: TrentService.<Op>`, base64 blobs) for `Sign` and
// `GetPublicKey` on ECC_NIST_P256 keys, backed by node:crypto. Real `KMSClient`s talk to it through
// their `endpoint`, so the SDK's serialization is exercised too. Signatures are DER, like KMS's.
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
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
        if (type === 'RAW') {
          if (message.length === 0 || message.length > 4096) return fail(res, 'ValidationException', 'Message must be 1 to 4096 bytes');
          const signature = sign('sha256', message, { key: privateKey, dsaEncoding: 'der' });
          return res.end(JSON.stringify({ KeyId: keyArn, Signature: signature.toString('base64'), SigningAlgorithm: 'ECDSA_SHA_256' }));
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
