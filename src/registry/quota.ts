// Code storage, reserved before it is used. Lambda's code storage is one quota per account and
// region, shared with every other function there; filling it stops every deployment in that
// region (CreateFunction and UpdateFunctionCode fail with CodeStorageExceededException). So a run
// reserves what its packages need before the first function exists, in a ledger every run reads
// and writes only conditionally: two runs deciding at once cannot both take the last free bytes.
// A headroom is left for the account's other functions.
import { parseDocument } from '../core/documents';
import { CodeStorageQuotaExceeded, InvalidRequest } from '../core/errors';
import { numberAt, objectAt, stringAt } from '../core/parse';
import { formatBytes } from '../core/units';
import type { AccountLimits, ObjectStore, WriteCondition } from '../ports';
import { conditionOf, writeConditionally } from './conditional';

/** The ledger, in the work bucket (outside every video's prefix). */
export const QUOTA_LEDGER_KEY = 'quota/reservations.json';
/** Conditional writes tried before giving up (each lost race means another run just wrote). */
const LEDGER_WRITES = 10;
/** A reservation older than this is a run that is over (an execution runs at most a day). */
export const RESERVATION_MS = 86_400_000;

interface Reservation {
  bytes: number;
  at: string;
}

interface Ledger {
  /** By `<videoId>/<revision>`. */
  reservations: Record<string, Reservation>;
}

function parseLedger(value: unknown, path: string): Ledger {
  const raw = objectAt(objectAt(value, path).reservations, `${path}.reservations`);
  const reservations: Record<string, Reservation> = {};
  for (const [run, entry] of Object.entries(raw)) {
    const r = objectAt(entry, `${path}.reservations.${run}`);
    reservations[run] = { bytes: numberAt(r.bytes, `${path}.${run}.bytes`), at: stringAt(r.at, `${path}.${run}.at`) };
  }
  return { reservations };
}

async function readLedger(objects: ObjectStore): Promise<{ ledger: Ledger; condition: WriteCondition }> {
  const tagged = await objects.getTagged('work', QUOTA_LEDGER_KEY);
  const condition = conditionOf(tagged?.etag);
  if (!tagged) return { ledger: { reservations: {} }, condition };
  try {
    return { ledger: parseDocument(tagged.body.toString('utf8'), `work/${QUOTA_LEDGER_KEY}`, parseLedger), condition };
  } catch (error) {
    // A damaged ledger reserves nothing it can be read to name; it is written anew.
    if (error instanceof InvalidRequest) return { ledger: { reservations: {} }, condition };
    throw error;
  }
}

/** Changes the ledger with a conditional write, reading it again after each lost race; `change` returns no ledger for no change. */
async function updateLedger(objects: ObjectStore, change: (ledger: Ledger) => Ledger | undefined): Promise<void> {
  await writeConditionally(
    objects,
    'work',
    QUOTA_LEDGER_KEY,
    async () => {
      const { ledger, condition } = await readLedger(objects);
      return { state: ledger, condition };
    },
    async (ledger) => {
      const next = change(ledger);
      return { ...(next && { body: JSON.stringify(next) }), result: undefined };
    },
    // Every conversion of the account shares the ledger: more races to lose than on one video's route.
    LEDGER_WRITES,
  );
}

export interface ReserveRequest {
  /** `<videoId>/<revision>`: one reservation per run, replaced when it reserves again (a retry). */
  run: string;
  bytes: number;
  limits: AccountLimits;
  /** Part of the quota kept free for the account's other functions (0–1). */
  headroom: number;
  now: number;
}

/**
 * Reserves `bytes` of code storage for a run, or refuses (CodeStorageQuotaExceeded) when they do
 * not fit in what is free: the limit, less the headroom, less what is stored, less what other
 * runs have reserved. A run's reservation counts beside the functions it has already created
 * until it ends (released by RegisterRoute or CleanUp): a run may be refused that would have fit,
 * never one let in that does not.
 */
export async function reserveCodeStorage(objects: ObjectStore, request: ReserveRequest): Promise<void> {
  const { limitBytes, usedBytes } = request.limits;
  const kept = Math.ceil(limitBytes * request.headroom);
  await updateLedger(objects, (ledger) => {
    const live = Object.entries(ledger.reservations).filter(
      ([run, r]) => run !== request.run && request.now - Date.parse(r.at) < RESERVATION_MS,
    );
    const reserved = live.reduce((sum, [, r]) => sum + r.bytes, 0);
    const free = Math.max(0, limitBytes - kept - usedBytes - reserved);
    if (request.bytes > free) {
      throw new CodeStorageQuotaExceeded(
        `the packages need ${formatBytes(request.bytes)} of code storage but only ${formatBytes(free)} of ${formatBytes(limitBytes)} is free ` +
          `(${formatBytes(usedBytes)} stored, ${formatBytes(reserved)} reserved by ${live.length} run${live.length === 1 ? '' : 's'} under way, ` +
          `${formatBytes(kept)} kept for the account's other functions): delete videos (lambda-hls delete, gc) to make room; ` +
          "Lambda's code storage is one quota per region, shared with every function of the account",
      );
    }
    return {
      reservations: {
        ...Object.fromEntries(live),
        [request.run]: { bytes: request.bytes, at: new Date(request.now).toISOString() },
      },
    };
  });
}

/** Gives a run's reservation back (it has ended: its functions are stored, or gone). */
export async function releaseCodeStorage(objects: ObjectStore, run: string): Promise<void> {
  await updateLedger(objects, (ledger) => {
    if (!(run in ledger.reservations)) return undefined;
    const { [run]: _, ...rest } = ledger.reservations;
    return { reservations: rest };
  });
}

/** The runs holding a reservation now (`<videoId>/<revision>`), for gc. */
export async function reservedRuns(objects: ObjectStore): Promise<string[]> {
  return Object.keys((await readLedger(objects)).ledger.reservations).sort();
}
