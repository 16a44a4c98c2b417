// The CPU settings of every SDK client (issue 16: the token path through the SDK): the SHA-256 class
// that keeps HMAC key objects must produce the SDK's exact signatures, the silent logger must stay silent,
// and handler reuse is opt-in, refused where it would break (document client, request counter).
import { describe, expect, it } from '@jest/globals';
import { createHash, createHmac } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { awsClientConfig, KeyedSha256 } from '../../../../lambdas/shared/runtime/aws-clients';
import { IndexUnavailableError } from '../../../../lambdas/shared/index/index-model';
import { DynamoIndexRepository } from '../../../../lambdas/shared/index/index-repository-dynamodb';
import { countRequests } from '../../../../lambdas/shared/index/request-counter';
import { MemoryDynamoDbHandler } from '../../../support/memory-dynamodb-handler';

const bytes = (d: string | ArrayBuffer | ArrayBufferView) =>
  typeof d === 'string' ? d : ArrayBuffer.isView(d) ? Buffer.from(d.buffer, d.byteOffset, d.byteLength) : Buffer.from(d);

/** The definition, for comparison: a fresh node:crypto hash or HMAC with the raw key, as the SDK's own class makes it. */
class ReferenceSha256 {
  private readonly hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {}
}

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };

function request(body: string): HttpRequest {
  return new HttpRequest({
    method: 'POST', protocol: 'https:', hostname: 'dynamodb.us-east-1.amazonaws.com', path: '/',
    headers: { host: 'dynamodb.us-east-1.amazonaws.com', 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.GetItem' },
    body,
  });
}

describe('KeyedSha256', () => {
  it('signs requests exactly as the SDK does with a fresh HMAC key each time (same signing key, many requests)', async () => {
    const keyed = new SignatureV4({ credentials, region: 'us-east-1', service: 'dynamodb', sha256: KeyedSha256 });
    const reference = new SignatureV4({ credentials, region: 'us-east-1', service: 'dynamodb', sha256: ReferenceSha256 });
    for (const [i, date] of [new Date('2026-12-02T04:00:00Z'), new Date('2026-12-02T04:00:01Z'), new Date('2026-12-03T00:00:00Z')].entries()) {
      const body = JSON.stringify({ TableName: 't', Key: { pk: { S: `TOKEN#${i}` }, sk: { S: 'TOKEN' } } });
      const a = await keyed.sign(request(body), { signingDate: date });
      const b = await reference.sign(request(body), { signingDate: date });
      expect(a.headers.authorization).toBe(b.headers.authorization);
      expect(a.headers.authorization).toMatch(/Signature=[0-9a-f]{64}$/);
    }
  });

  it('gives the RFC 4231 HMAC-SHA-256 and the plain SHA-256 of known inputs, for strings, bytes and ArrayBuffers', async () => {
    const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
    // RFC 4231 test case 2.
    const hmac = new KeyedSha256('Jefe');
    hmac.update('what do ya want for nothing?');
    expect(hex(await hmac.digest())).toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
    // The same key as bytes, twice (the second use takes the kept key object).
    const key = new Uint8Array(Buffer.from('Jefe'));
    for (let i = 0; i < 2; i++) {
      const again = new KeyedSha256(key);
      again.update(new TextEncoder().encode('what do ya want for nothing?').buffer);
      expect(hex(await again.digest())).toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
    }
    const plain = new KeyedSha256();
    plain.update('abc');
    expect(hex(await plain.digest())).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(hex(await plain.digest())).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('refuses an update after an HMAC was finished, and starts over after reset', async () => {
    const hmac = new KeyedSha256('k');
    hmac.update('a');
    const first = await hmac.digest();
    expect(() => hmac.update('b')).toThrow(/finished/);
    hmac.reset();
    hmac.update('a');
    expect(await hmac.digest()).toEqual(first);
  });
});

describe('awsClientConfig CPU settings', () => {
  it('gives every client the keyed hash and a logger that logs nothing and has no info (the SDK then skips its log copy)', () => {
    const config = awsClientConfig('authenticate');
    expect(config.sha256).toBe(KeyedSha256);
    expect((config.logger as { info?: unknown }).info).toBeUndefined();
    expect(() => { config.logger.debug(); config.logger.warn(); config.logger.error(); }).not.toThrow();
    expect(config).not.toHaveProperty('cacheMiddleware');
    expect(awsClientConfig('authenticate', { reuseCommandHandlers: true })).toMatchObject({ cacheMiddleware: true });
  });

  it('a reads-only repository on a client that reuses handlers reads, refuses writes, and cannot be counted by middleware', async () => {
    const transport = new MemoryDynamoDbHandler();
    const env = { region: 'us-east-1', credentials };
    const writer = new DynamoIndexRepository({ tableName: 't', client: new DynamoDBClient({ ...awsClientConfig('indexer'), ...env, requestHandler: transport }) });
    await writer.putCursor({ cursor: 'c1', checkpoint: 1n, eventsSeen: 0, updatedAt: '2026-12-02T00:00:00.000Z', coveredThroughMs: 42 }, undefined);
    const client = new DynamoDBClient({ ...awsClientConfig('authenticate', { reuseCommandHandlers: true }), ...env, requestHandler: transport });
    const reader = new DynamoIndexRepository({ tableName: 't', client });
    // Twice: the second send takes the cached handler, and must still carry its own input.
    expect(await reader.readIndexView()).toEqual({ freshness: { coveredThroughMs: 42 }, minStakeMist: {} });
    expect(await reader.readTokenForCheck('0x01')).toBeUndefined();
    expect(await reader.readIndexView()).toEqual({ freshness: { coveredThroughMs: 42 }, minStakeMist: {} });
    expect(transport.byOperation).toMatchObject({ BatchGetItem: 2, GetItem: 1 });
    await expect(reader.putCursor({ cursor: 'c2', checkpoint: 2n, eventsSeen: 0, updatedAt: '2026-12-02T00:00:00.000Z' }, undefined)).rejects.toThrow(IndexUnavailableError);
    await expect(reader.putCursor({ cursor: 'c2', checkpoint: 2n, eventsSeen: 0, updatedAt: '2026-12-02T00:00:00.000Z' }, undefined)).rejects.toThrow(/token-check reads only/);
    expect(() => countRequests(client)).toThrow(/reuses command handlers/);
  });
});
