// The emulator serves one request at a time (moto-server.ts's launcher): DynamoDB and Auto Scaling isolate
// concurrent requests, moto's threaded server does not. A request left half sent holds the server, so a
// second, complete one is not answered until the first is finished; a threaded server answers it at once.
// The wait below bounds only how long the test looks for that wrong early answer: a slow machine makes
// answers later, never earlier, so it cannot turn a serial server into a failure.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import * as net from 'node:net';
import { describeWithMoto, motoSkipReason, startMoto, type Moto } from './moto';

const EARLY_ANSWER_WINDOW_MS = 2_000;

let moto: Moto | undefined;
beforeAll(async () => {
  if (!motoSkipReason()) moto = await startMoto();
});
afterAll(async () => {
  await moto?.stop();
});

/** A raw connection to moto; `answered` settles with the first bytes it sends back. */
function connect(): Promise<{ socket: net.Socket; answered: Promise<string> }> {
  const { hostname, port } = new URL(moto!.endpoint);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => {
      const answered = new Promise<string>((done) => socket.once('data', (d: Buffer) => done(d.toString('latin1'))));
      resolve({ socket, answered });
    });
    socket.once('error', reject);
  });
}

describeWithMoto('the moto server', () => {
  it('answers a second request only after the one it is reading', async () => {
    const first = await connect();
    const second = await connect();
    try {
      const request = `GET /moto-api/ HTTP/1.1\r\nHost: ${new URL(moto!.endpoint).host}\r\nConnection: close\r\n`;
      first.socket.write(request); // the headers' final blank line is withheld: the server waits on it
      second.socket.write(`${request}\r\n`);
      const early = await Promise.race([
        second.answered.then(() => 'answered'),
        new Promise<string>((r) => setTimeout(() => r('waiting'), EARLY_ANSWER_WINDOW_MS)),
      ]);
      expect(early).toBe('waiting');
      first.socket.write('\r\n');
      expect(await first.answered).toMatch(/^HTTP\/1\.[01] 200/);
      expect(await second.answered).toMatch(/^HTTP\/1\.[01] 200/);
    } finally {
      first.socket.destroy();
      second.socket.destroy();
    }
  });
});
