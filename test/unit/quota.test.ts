import { QUOTA_LEDGER_KEY, releaseCodeStorage, reserveCodeStorage, RESERVATION_MS } from '../../src/registry/quota';
import { MemoryObjectStore } from '../support/memory';

const MB = 1024 * 1024;
const limits = (usedBytes: number) => ({ limitBytes: 300 * MB, usedBytes });
const NOW = Date.parse('2026-12-07T00:00:00Z');

describe('code storage, reserved before any function is created', () => {
  it("lets in of two runs deciding at once only what fits: the second reads the first's reservation", async () => {
    const objects = new MemoryObjectStore();
    // Both read the empty ledger before either writes: the conditional write makes one read again.
    const getTagged = objects.getTagged.bind(objects);
    let reads = 0;
    let bothRead: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      bothRead = resolve;
    });
    objects.getTagged = async (...args: Parameters<typeof getTagged>) => {
      const result = await getTagged(...args);
      if (++reads === 2) bothRead();
      if (reads <= 2) await gate;
      return result;
    };
    const reserve = (run: string) =>
      reserveCodeStorage(objects, { run, bytes: 200 * MB, limits: limits(50 * MB), headroom: 0, now: NOW }).then(
        () => 'reserved',
        (error: Error) => error.name,
      );
    expect((await Promise.all([reserve('a-000000/aaaa1111'), reserve('b-000000/bbbb2222')])).sort()).toEqual([
      'CodeStorageQuotaExceeded',
      'reserved',
    ]);
  });

  it("keeps the headroom for the account's other functions, and says what is stored, reserved and kept", async () => {
    const objects = new MemoryObjectStore();
    await reserveCodeStorage(objects, { run: 'a-000000/aaaa1111', bytes: 100 * MB, limits: limits(100 * MB), headroom: 0.1, now: NOW });
    await expect(
      reserveCodeStorage(objects, { run: 'b-000000/bbbb2222', bytes: 80 * MB, limits: limits(100 * MB), headroom: 0.1, now: NOW }),
    ).rejects.toMatchObject({
      name: 'CodeStorageQuotaExceeded',
      message: expect.stringContaining(
        "only 70.0 MiB of 300.0 MiB is free (100.0 MiB stored, 100.0 MiB reserved by 1 run under way, 30.0 MiB kept for the account's other functions)",
      ),
    });
    // A reservation given back, or one older than a day (a run that is over), counts no more.
    await releaseCodeStorage(objects, 'a-000000/aaaa1111');
    await reserveCodeStorage(objects, { run: 'b-000000/bbbb2222', bytes: 80 * MB, limits: limits(100 * MB), headroom: 0.1, now: NOW });
    await reserveCodeStorage(objects, {
      run: 'c-000000/cccc3333',
      bytes: 170 * MB,
      limits: limits(0),
      headroom: 0.1,
      now: NOW + RESERVATION_MS + 1,
    });
    const ledger = JSON.parse((await objects.get('work', QUOTA_LEDGER_KEY)).toString()) as { reservations: Record<string, unknown> };
    expect(Object.keys(ledger.reservations)).toEqual(['c-000000/cccc3333']);
  });

  it('replaces its own reservation when a run reserves again (a retried step)', async () => {
    const objects = new MemoryObjectStore();
    const request = { run: 'a-000000/aaaa1111', bytes: 200 * MB, limits: limits(0), headroom: 0, now: NOW };
    await reserveCodeStorage(objects, request);
    await expect(reserveCodeStorage(objects, request)).resolves.toBeUndefined();
  });
});
