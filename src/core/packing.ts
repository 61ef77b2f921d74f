// How segments become Lambda code packages and packages become PackageBatch runs: within what
// CreateFunction accepts (a direct upload's request size, an S3 object's package size) and what one
// batch can create inside its function's timeout.
import { STORED_ZIP_END_BYTES, storedEntryOverhead } from './zip';

/** Lambda: function code and layers ≤ 250 MB unzipped (262,144,000 bytes). */
export const MAX_PACKAGE_BYTES = 262_144_000;
/**
 * CreateFunction sends a direct zip base64-encoded inside its JSON request, which must be smaller
 * than 69,905,067 bytes. The rest of the request is 402 bytes with a 64-character function name and
 * role name (measured with the SDK's own serialiser); 512 leaves room for a role path.
 */
export const CREATE_FUNCTION_REQUEST_LIMIT = 69_905_067;
const CREATE_FUNCTION_REQUEST_OVERHEAD = 512;
/** The largest zip CreateFunction takes directly (52,428,414 bytes, a little under 50 MiB); larger ones go through S3. */
export const DIRECT_UPLOAD_BYTES = Math.floor((CREATE_FUNCTION_REQUEST_LIMIT - 1 - CREATE_FUNCTION_REQUEST_OVERHEAD) / 4) * 3;

/** The name of segment `index` inside its package. */
export function segmentEntryName(index: number): string {
  return `${String(index).padStart(5, '0')}.ts`;
}

/** A package: consecutive segments `first` … `first + count - 1` in one stored zip of `bytes`. */
export interface PackagePlan {
  package: number;
  first: number;
  count: number;
  bytes: number;
}

export interface PackingLimits {
  /** Zip bytes per package: by default what fits CreateFunction's direct 50 MB upload. */
  maxBytes: number;
  /** Entries per package: keeps read-back and listing quick (zip without zip64 allows 65,535). */
  maxEntries: number;
}

export const DEFAULT_PACKING: PackingLimits = { maxBytes: DIRECT_UPLOAD_BYTES, maxEntries: 1000 };

/**
 * Fills packages with consecutive segments up to the limits. A segment larger than `maxBytes`
 * gets a package of its own (stored through S3, up to MAX_PACKAGE_BYTES; SegmentMedia refuses
 * larger ones before this).
 */
export function planPackages(segments: readonly { index: number; bytes: number }[], limits = DEFAULT_PACKING): PackagePlan[] {
  const packages: PackagePlan[] = [];
  let current: PackagePlan | undefined;
  segments.forEach((segment, position) => {
    if (segment.index !== position) throw new Error(`segment ${segment.index} found at position ${position}: indices must run 0, 1, 2 …`);
    const grows = segment.bytes + storedEntryOverhead(segmentEntryName(segment.index));
    if (!current || current.count >= limits.maxEntries || current.bytes + grows > limits.maxBytes) {
      current = { package: packages.length, first: segment.index, count: 0, bytes: STORED_ZIP_END_BYTES };
      packages.push(current);
    }
    current.count++;
    current.bytes += grows;
  });
  return packages;
}

/**
 * One iteration of the PackageSegments Map: consecutive packages. The Map runs over batches so a
 * long video keeps the history small: each iteration adds about seven events whatever it holds.
 */
export interface BatchPlan {
  batch: number;
  firstPackage: number;
  packageCount: number;
  bytes: number;
}

export interface BatchLimits {
  /** Packages per iteration: CreateFunction shares ~15 requests/s per account. */
  maxPackages: number;
  /** Bytes per iteration: bounds the time one Lambda invocation spends streaming packages. */
  maxBytes: number;
  /** Seconds the iteration's CreateFunction requests may take at CREATE_FUNCTION_BUDGET's figures (unset: no bound). */
  maxSeconds?: number;
}

/** At one package per 10-second segment, 8,640 segments (24 h) make 1,080 iterations, ~7,600 events. */
export const DEFAULT_BATCH_LIMITS: BatchLimits = { maxPackages: 8, maxBytes: 400 * 1024 * 1024 };

/**
 * What a CreateFunction of a package may take in AWS, pessimistically, to size a batch within
 * PackageBatch's timeout. AWS publishes no figures: after a create the function is Pending and
 * becomes Active when Lambda has provisioned it, "in most cases ... very fast" (AWS Compute Blog,
 * "Tracking the state of Lambda functions"). So: the request's body (the zip base64-encoded in
 * JSON, ~70 MB at the direct limit; the zip itself when it is staged in S3 first) sent at 10 MB/s,
 * 3 s for Lambda to answer, and one wait of up to 30 s for the batch's packages to be Active
 * (they are created one after another and waited for together). The rehearsal's slow profile
 * (test/rehearsal/support/lambda.ts) is within these figures.
 */
export const CREATE_FUNCTION_BUDGET = { bytesPerSecond: 10_000_000, requestSeconds: 3, activeSeconds: 30 } as const;

/** Seconds one package's CreateFunction (and its staging upload) is budgeted. */
export function createSeconds(zipBytes: number): number {
  const sent = zipBytes <= DIRECT_UPLOAD_BYTES ? Math.ceil(zipBytes / 3) * 4 + CREATE_FUNCTION_REQUEST_OVERHEAD : zipBytes;
  return sent / CREATE_FUNCTION_BUDGET.bytesPerSecond + CREATE_FUNCTION_BUDGET.requestSeconds;
}

/**
 * Batch limits for a PackageBatch of this timeout: its creates, at the budget's figures, take at
 * most half of it less the wait for Active (the rest is for reading the segments and retrying
 * throttled calls). Unset timeout (locally): the defaults.
 */
export function batchLimitsFor(timeoutSeconds: number | undefined): BatchLimits {
  if (timeoutSeconds === undefined) return DEFAULT_BATCH_LIMITS;
  return { ...DEFAULT_BATCH_LIMITS, maxSeconds: timeoutSeconds / 2 - CREATE_FUNCTION_BUDGET.activeSeconds };
}

export function planBatches(packages: readonly PackagePlan[], limits = DEFAULT_BATCH_LIMITS): BatchPlan[] {
  const batches: BatchPlan[] = [];
  let current: BatchPlan | undefined;
  let seconds = 0;
  for (const pkg of packages) {
    const cost = createSeconds(pkg.bytes);
    const overTime = limits.maxSeconds !== undefined && seconds + cost > limits.maxSeconds;
    if (!current || current.packageCount >= limits.maxPackages || current.bytes + pkg.bytes > limits.maxBytes || overTime) {
      current = { batch: batches.length, firstPackage: pkg.package, packageCount: 0, bytes: 0 };
      batches.push(current);
      seconds = 0;
    }
    current.packageCount++;
    current.bytes += pkg.bytes;
    seconds += cost;
  }
  return batches;
}
