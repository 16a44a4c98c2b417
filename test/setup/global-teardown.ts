// Stops the moto servers of test/setup/global-setup.ts (they also exit by themselves if Jest dies).
export default async function globalTeardown(): Promise<void> {
  await Promise.all((globalThis.__k3sDaasMotoServers ?? []).map((s) => s.stop()));
  globalThis.__k3sDaasMotoServers = undefined;
}
