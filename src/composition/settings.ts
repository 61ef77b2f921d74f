// Every environment variable the product reads, in one table: its name, default, range and what
// it does. Read and validated once per process (`settings()`); the CLI's --help, the README's
// environment table and each deployed function's environment (deploy/stack.js) come from here.
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { DEFAULT_ENCODE_SPEED_MEGAPIXELS } from '../core/chunks';
import { DEFAULT_MEDIA_MEMORY_MB, DEFAULT_SCRATCH_PENDING_BYTES, mediaMemoryFor } from '../core/media-limits';
import { DEFAULT_PACKING, MAX_PACKAGE_BYTES } from '../core/packing';
import { parseFaults, type Fault } from '../adapters/local/faults';
import type { Bucket } from '../ports';

/** A setting that cannot be used as given: the CLI exits 2 with this message. */
export class InvalidSetting extends Error {
  override readonly name = 'InvalidSetting' as const;
}

/** Largest input accepted by default: 10 GiB. */
export const DEFAULT_MAX_INPUT_BYTES = 10 * 1024 ** 3;
/** Lambda-managed code storage per region: 300 GB (AWS, "Self-managed S3 code storage", 2026; the quotas page once said 75 GB, raisable). */
export const DEFAULT_QUOTA_BYTES = 300 * 1000 ** 3;
/** GetFunction's Code.Location lives "up to 10 minutes"; local URLs the same by default. */
export const DEFAULT_URL_LIFETIME_SECONDS = 600;

export interface Settings {
  home: string;
  /** Prefix of segment function names; with the video id they stay within 64 characters. */
  functionPrefix: string;
  maxInputBytes: number;
  /** Zip bytes consecutive segments are packed up to. */
  packageBytes: number;
  /** Largest segment a package may hold. */
  maxPackageBytes: number;
  quotaBytes: number;
  /** Per cent of the code storage quota no conversion may take (the account's other functions'). */
  codeHeadroomPercent: number;
  urlLifetimeSeconds: number;
  /** How long a replaced revision's segments stay addressable (players holding its playlist) before its functions go. */
  revisionGraceSeconds: number;
  /** How long `convert` waits for another conversion of the same file before giving up. */
  lockWaitSeconds: number;
  faults: Fault[];
  faultSeed: number | undefined;
  ffmpegPath: string | undefined;
  ffprobePath: string | undefined;
  /** Mixed into video ids (an HMAC of the key), so a stream cannot be found from its file name; '' for none. */
  videoIdSecret: string;
  /** Names the stack gives a deployed function (unset elsewhere). */
  inputBucket: string | undefined;
  workBucket: string | undefined;
  outputBucket: string | undefined;
  segmentRoleArn: string | undefined;
  stateMachineArn: string | undefined;
  /** Where the delivery route (deliver-segment's function URL) answers: the hosted page's proxied playlist. */
  deliveryUrl: string | undefined;
  /** The hosted page sends Safari and iOS to the redirect playlist (param appleRedirects), not the delivery route. */
  appleRedirects: boolean;
  /** Buckets the function may read but not list: S3 answers a missing key there with 403, which then means missing. */
  unlistedBuckets: Bucket[];
  /** Runtime CreateFunction gives segment functions (never invoked: only accepted). */
  segmentRuntime: string;
  /**
   * Scratch space for ffmpeg's segments; unset, the system's temporary folder (Lambda's /tmp).
   * The local backend sets its own, beside its buckets (not an environment variable).
   */
  scratchDir?: string;
  /** Bytes of finished segments that may wait in scratch space before ffmpeg is paused. */
  scratchPendingBytes: number;
  /** Each ffprobe and ffmpeg process's memory (data segment), MiB; 0 for no limit. */
  mediaMemoryMb: number;
  /** Chunks of a transcode encoded at once (the EncodeChunks Map's concurrency). */
  encodeConcurrency: number;
  /** Megapixels of source video one CPU encodes per second (chunk sizing). */
  encodeSpeedMegapixels: number;
  /** Longest chunk in seconds, whatever the estimate allows; unset: as the estimate and concurrency say. */
  maxChunkSeconds: number | undefined;
  /** The encoding function's timeout and memory (deployed; unset locally: no timeout, the machine's CPUs shared). */
  encodeTimeoutSeconds: number | undefined;
  packageTimeoutSeconds: number | undefined;
  encodeMemoryMb: number | undefined;
}

/**
 * Who reads a setting: `local` (the CLI's embedded default), `both` (also a deployed function,
 * where the user may override the default in serverless.yml), or `stack` (set by the stack for
 * the deployed functions that need it, never by hand).
 */
export type Scope = 'local' | 'both' | 'stack';

interface Spec<K extends keyof Settings> {
  name: string;
  key: K;
  scope: Scope;
  /** What it does, for --help and the README. */
  help: string;
  /** The default, as a person reads it. */
  shown: string;
  /** The variable's value; `env` for a default that depends on the environment (a Lambda function's memory). */
  parse(raw: string | undefined, env: NodeJS.ProcessEnv): Settings[K];
}

function whole(name: string, fallback: number, min: number, max: number, unit: string) {
  return (raw: string | undefined): number => {
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new InvalidSetting(`${name} must be a whole number of ${unit} from ${min} to ${max}, got ${JSON.stringify(raw)}`);
    }
    return value;
  };
}

/** A name-like setting: `fallback` when unset, else it must match `pattern` (`what` says what it must be). */
function patterned(name: string, fallback: string, pattern: RegExp, what: string) {
  return (raw: string | undefined): string => {
    const value = raw === undefined || raw === '' ? fallback : raw;
    if (!pattern.test(value)) throw new InvalidSetting(`${name} must be ${what}, got ${JSON.stringify(raw)}`);
    return value;
  };
}

function optional(raw: string | undefined): string | undefined {
  return raw === undefined || raw === '' ? undefined : raw;
}

const MAX_BYTES = Number.MAX_SAFE_INTEGER;

/** The table. Order is the order of --help and the README. */
export const SETTINGS = [
  {
    name: 'LAMBDA_HLS_HOME',
    key: 'home',
    scope: 'local',
    shown: './.lambda-hls',
    help: 'where local data lives: buckets, functions, execution histories',
    parse: (raw) => resolve(raw || '.lambda-hls'),
  } satisfies Spec<'home'>,
  {
    name: 'FFMPEG_PATH',
    key: 'ffmpegPath',
    scope: 'both',
    shown: "the source build, else npm's",
    help: "ffmpeg to run instead of the one npm run build:ffmpeg built (else npm's static 2018 build; deployed: /opt/bin/ffmpeg from the layer)",
    parse: optional,
  } satisfies Spec<'ffmpegPath'>,
  {
    name: 'FFPROBE_PATH',
    key: 'ffprobePath',
    scope: 'both',
    shown: "the source build, else npm's",
    help: "ffprobe to run instead of the one npm run build:ffmpeg built (else npm's; deployed: /opt/bin/ffprobe)",
    parse: optional,
  } satisfies Spec<'ffprobePath'>,
  {
    name: 'LAMBDA_HLS_FUNCTION_PREFIX',
    key: 'functionPrefix',
    scope: 'both',
    shown: 'lhls-',
    help: 'prefix of every segment function name (deployed: lambda-hls-<stage>-seg-, set by the stack)',
    parse: patterned('LAMBDA_HLS_FUNCTION_PREFIX', 'lhls-', /^[A-Za-z0-9_-]{1,63}$/, 'letters, digits, - or _ (as Lambda function names)'),
  } satisfies Spec<'functionPrefix'>,
  {
    name: 'LAMBDA_HLS_MAX_INPUT_BYTES',
    key: 'maxInputBytes',
    scope: 'both',
    shown: '10 GiB',
    help: 'largest input accepted (InputTooLarge above it)',
    parse: whole('LAMBDA_HLS_MAX_INPUT_BYTES', DEFAULT_MAX_INPUT_BYTES, 1, MAX_BYTES, 'bytes'),
  } satisfies Spec<'maxInputBytes'>,
  {
    name: 'LAMBDA_HLS_PACKAGE_BYTES',
    key: 'packageBytes',
    scope: 'both',
    shown: '52428414 (just under 50 MiB)',
    help: 'consecutive segments are packed up to this many zip bytes (the default is the largest zip CreateFunction takes directly; up to 250 MB through S3)',
    parse: whole('LAMBDA_HLS_PACKAGE_BYTES', DEFAULT_PACKING.maxBytes, 1, MAX_PACKAGE_BYTES, 'bytes'),
  } satisfies Spec<'packageBytes'>,
  {
    name: 'LAMBDA_HLS_SCRATCH_PENDING_BYTES',
    key: 'scratchPendingBytes',
    scope: 'both',
    shown: '268435456 (256 MiB)',
    help: 'finished segments that may wait in scratch space to be stored before ffmpeg is paused until half of them are (bounds scratch space; deployed, within the ephemeral storage)',
    parse: whole('LAMBDA_HLS_SCRATCH_PENDING_BYTES', DEFAULT_SCRATCH_PENDING_BYTES, 1, 8 * 1024 ** 3, 'bytes'),
  } satisfies Spec<'scratchPendingBytes'>,
  {
    name: 'LAMBDA_HLS_MEDIA_MEMORY_MB',
    key: 'mediaMemoryMb',
    scope: 'both',
    shown: `${DEFAULT_MEDIA_MEMORY_MB} (deployed: the function's memory less 256)`,
    help: 'memory each ffprobe and ffmpeg process may use, in MiB (MediaTooDemanding past it; 0: no limit): a 1080p transcode needs about 400',
    parse: (raw, env) =>
      whole(
        'LAMBDA_HLS_MEDIA_MEMORY_MB',
        mediaMemoryFor(Number(env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE) || undefined),
        0,
        1_048_576,
        'MiB',
      )(raw),
  } satisfies Spec<'mediaMemoryMb'>,
  {
    name: 'LAMBDA_HLS_ENCODE_CONCURRENCY',
    key: 'encodeConcurrency',
    scope: 'both',
    shown: "the machine's CPUs (deployed: param encodeConcurrency, 10)",
    help: 'chunks of a transcode encoded at once; deployed, each is a Lambda invocation, and SegmentMedia runs at most half of what the account leaves unreserved (GetAccountSettings)',
    parse: (raw) => whole('LAMBDA_HLS_ENCODE_CONCURRENCY', availableParallelism(), 1, 1000, 'tasks')(raw),
  } satisfies Spec<'encodeConcurrency'>,
  {
    name: 'LAMBDA_HLS_ENCODE_SPEED',
    key: 'encodeSpeedMegapixels',
    scope: 'both',
    shown: String(DEFAULT_ENCODE_SPEED_MEGAPIXELS),
    help: 'megapixels of source video one CPU transcodes per second, for sizing chunks within the encoding timeout (a 2× safety factor is added)',
    parse: whole('LAMBDA_HLS_ENCODE_SPEED', DEFAULT_ENCODE_SPEED_MEGAPIXELS, 1, 100_000, 'megapixels per second'),
  } satisfies Spec<'encodeSpeedMegapixels'>,
  {
    name: 'LAMBDA_HLS_CHUNK_SECONDS',
    key: 'maxChunkSeconds',
    scope: 'both',
    shown: 'none',
    help: "longest chunk of a transcode, in seconds (rounded down to whole segments); unset, chunks fill the concurrency and the encoding function's timeout",
    parse: (raw) => (raw === undefined || raw === '' ? undefined : whole('LAMBDA_HLS_CHUNK_SECONDS', 0, 1, 86_400, 'seconds')(raw)),
  } satisfies Spec<'maxChunkSeconds'>,
  {
    name: 'LAMBDA_HLS_ENCODE_TIMEOUT_SECONDS',
    key: 'encodeTimeoutSeconds',
    scope: 'stack',
    shown: '',
    help: "the encodeChunk function's timeout (serverless.yml): no chunk may be estimated past half of it",
    parse: (raw) => (raw === undefined || raw === '' ? undefined : whole('LAMBDA_HLS_ENCODE_TIMEOUT_SECONDS', 0, 1, 900, 'seconds')(raw)),
  } satisfies Spec<'encodeTimeoutSeconds'>,
  {
    name: 'LAMBDA_HLS_PACKAGE_TIMEOUT_SECONDS',
    key: 'packageTimeoutSeconds',
    scope: 'stack',
    shown: '',
    help: "the packageBatch function's timeout (serverless.yml): each batch of packages is sized so that creating them, at pessimistic CreateFunction figures, takes at most half of it",
    parse: (raw) => (raw === undefined || raw === '' ? undefined : whole('LAMBDA_HLS_PACKAGE_TIMEOUT_SECONDS', 0, 1, 900, 'seconds')(raw)),
  } satisfies Spec<'packageTimeoutSeconds'>,
  {
    name: 'LAMBDA_HLS_ENCODE_MEMORY_MB',
    key: 'encodeMemoryMb',
    scope: 'stack',
    shown: '',
    help: "the encodeChunk function's memory (serverless.yml): Lambda gives one vCPU per 1,769 MB",
    parse: (raw) => (raw === undefined || raw === '' ? undefined : whole('LAMBDA_HLS_ENCODE_MEMORY_MB', 0, 128, 10_240, 'MB')(raw)),
  } satisfies Spec<'encodeMemoryMb'>,
  {
    name: 'LAMBDA_HLS_MAX_PACKAGE_BYTES',
    key: 'maxPackageBytes',
    scope: 'both',
    shown: '250 MB',
    help: "largest segment a package may hold (SegmentTooLarge above it); Lambda's 250 MB unzipped at most",
    parse: whole('LAMBDA_HLS_MAX_PACKAGE_BYTES', MAX_PACKAGE_BYTES, 1, MAX_PACKAGE_BYTES, 'bytes'),
  } satisfies Spec<'maxPackageBytes'>,
  {
    name: 'LAMBDA_HLS_CODE_QUOTA_BYTES',
    key: 'quotaBytes',
    scope: 'local',
    shown: '300 GB',
    help: "local code storage quota, as Lambda's per region (CodeStorageQuotaExceeded above it)",
    parse: whole('LAMBDA_HLS_CODE_QUOTA_BYTES', DEFAULT_QUOTA_BYTES, 1, MAX_BYTES, 'bytes'),
  } satisfies Spec<'quotaBytes'>,
  {
    name: 'LAMBDA_HLS_CODE_HEADROOM_PERCENT',
    key: 'codeHeadroomPercent',
    scope: 'both',
    shown: '10 (deployed: param codeHeadroomPercent)',
    help: "per cent of the code storage quota conversions leave free for the account's other functions (CodeStorageQuotaExceeded rather than take it)",
    parse: whole('LAMBDA_HLS_CODE_HEADROOM_PERCENT', 10, 0, 90, 'per cent'),
  } satisfies Spec<'codeHeadroomPercent'>,
  {
    name: 'LAMBDA_HLS_URL_LIFETIME_SECONDS',
    key: 'urlLifetimeSeconds',
    scope: 'local',
    shown: '600',
    help: 'how long a local package URL stays valid, as GetFunction\'s "up to 10 minutes"',
    parse: whole('LAMBDA_HLS_URL_LIFETIME_SECONDS', DEFAULT_URL_LIFETIME_SECONDS, 1, 7 * 24 * 3600, 'seconds'),
  } satisfies Spec<'urlLifetimeSeconds'>,
  {
    name: 'LAMBDA_HLS_VIDEO_ID_SECRET',
    key: 'videoIdSecret',
    scope: 'both',
    shown: 'none',
    help: 'a secret mixed into video ids, so a stream cannot be found from its file name (deployed: --param videoIdSecret; the CLI needs the same one for --stage)',
    parse: (raw) => {
      if (raw === undefined || raw === '') return '';
      if (raw.length < 16)
        throw new InvalidSetting('LAMBDA_HLS_VIDEO_ID_SECRET must be at least 16 characters (a random one: openssl rand -hex 16)');
      return raw;
    },
  } satisfies Spec<'videoIdSecret'>,
  {
    name: 'LAMBDA_HLS_LOCK_WAIT_SECONDS',
    key: 'lockWaitSeconds',
    scope: 'local',
    shown: '3600',
    help: 'how long convert waits while another lambda-hls converts the same file, before it gives up naming the lock file',
    parse: whole('LAMBDA_HLS_LOCK_WAIT_SECONDS', 3600, 0, 7 * 24 * 3600, 'seconds'),
  } satisfies Spec<'lockWaitSeconds'>,
  {
    name: 'LAMBDA_HLS_REVISION_GRACE_SECONDS',
    key: 'revisionGraceSeconds',
    scope: 'both',
    shown: '86400 (a day)',
    help: "how long a converted-again video's previous segments are still answered (a player may hold the old playlist), then 410 and deleted; keep it above the URL lifetime (600 s) plus the playlist's 10 s cache",
    parse: whole('LAMBDA_HLS_REVISION_GRACE_SECONDS', 86400, 1, 30 * 24 * 3600, 'seconds'),
  } satisfies Spec<'revisionGraceSeconds'>,
  {
    name: 'LAMBDA_HLS_FAULTS',
    key: 'faults',
    scope: 'local',
    shown: 'none',
    help: 'inject faults into local runs, e.g. code.throttle=0.3 (README: Fault injection)',
    parse: (raw) => {
      try {
        return parseFaults(raw);
      } catch (error) {
        throw new InvalidSetting((error as Error).message);
      }
    },
  } satisfies Spec<'faults'>,
  {
    name: 'LAMBDA_HLS_FAULT_SEED',
    key: 'faultSeed',
    scope: 'local',
    shown: 'random',
    help: 'makes the injected faults repeatable',
    parse: (raw) => (raw === undefined || raw === '' ? undefined : whole('LAMBDA_HLS_FAULT_SEED', 0, 0, 2 ** 32 - 1, 'units')(raw)),
  } satisfies Spec<'faultSeed'>,
  {
    name: 'LAMBDA_HLS_SEGMENT_RUNTIME',
    key: 'segmentRuntime',
    scope: 'stack',
    shown: 'provided.al2023',
    help: 'runtime of the segment functions (serverless.yml custom.segmentRuntime): never invoked, so the one whose creation AWS allows longest (provided.al2023: until 2029; nodejs22.x: until 2027-06-01)',
    parse: patterned('LAMBDA_HLS_SEGMENT_RUNTIME', 'provided.al2023', /^[a-z][a-z0-9.]*$/, 'a Lambda runtime identifier'),
  } satisfies Spec<'segmentRuntime'>,
  {
    name: 'INPUT_BUCKET',
    key: 'inputBucket',
    scope: 'stack',
    shown: '',
    help: 'the bucket uploads go to',
    parse: optional,
  } satisfies Spec<'inputBucket'>,
  {
    name: 'WORK_BUCKET',
    key: 'workBucket',
    scope: 'stack',
    shown: '',
    help: 'segments, manifests and claims while a conversion runs',
    parse: optional,
  } satisfies Spec<'workBucket'>,
  {
    name: 'OUTPUT_BUCKET',
    key: 'outputBucket',
    scope: 'stack',
    shown: '',
    help: 'playlists and the route registry',
    parse: optional,
  } satisfies Spec<'outputBucket'>,
  {
    name: 'SEGMENT_ROLE_ARN',
    key: 'segmentRoleArn',
    scope: 'stack',
    shown: '',
    help: 'the permission-less role of the segment functions',
    parse: optional,
  } satisfies Spec<'segmentRoleArn'>,
  {
    name: 'STATE_MACHINE_ARN',
    key: 'stateMachineArn',
    scope: 'stack',
    shown: '',
    help: 'the ConvertVideo state machine the S3 trigger starts',
    parse: optional,
  } satisfies Spec<'stateMachineArn'>,
  {
    name: 'DELIVERY_URL',
    key: 'deliveryUrl',
    scope: 'stack',
    shown: '',
    help: "the delivery route's function URL, which the hosted player page's web players read",
    parse: optional,
  } satisfies Spec<'deliveryUrl'>,
  {
    name: 'LAMBDA_HLS_APPLE_REDIRECTS',
    key: 'appleRedirects',
    scope: 'stack',
    shown: 'false',
    help: "the hosted page gives Safari and iOS the redirect playlist (param appleRedirects) instead of the delivery route, which Apple's HLS authoring 8.18 asks for",
    parse: (raw) => {
      if (raw === undefined || raw === '' || raw === 'false') return false;
      if (raw === 'true') return true;
      throw new InvalidSetting(`LAMBDA_HLS_APPLE_REDIRECTS must be true or false, got ${JSON.stringify(raw)}`);
    },
  } satisfies Spec<'appleRedirects'>,
  {
    name: 'UNLISTED_BUCKETS',
    key: 'unlistedBuckets',
    scope: 'stack',
    shown: '',
    help: 'buckets this function may read but not list (the public serve and deliver functions: no one can list every video from them); a 403 for a key there means it is missing',
    parse: (raw) => {
      const names = (raw ?? '').split(',').filter(Boolean);
      const bad = names.find((n) => !['input', 'work', 'output'].includes(n));
      if (bad) throw new InvalidSetting(`UNLISTED_BUCKETS must name input, work or output buckets, not ${JSON.stringify(bad)}`);
      return names as Bucket[];
    },
  } satisfies Spec<'unlistedBuckets'>,
] as const;

export type SettingName = (typeof SETTINGS)[number]['name'];

/** Reads and checks every setting; throws InvalidSetting naming the first that is wrong. */
export function readSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const read: Partial<Record<keyof Settings, unknown>> = {};
  for (const spec of SETTINGS)
    read[spec.key] = (spec.parse as (raw: string | undefined, env: NodeJS.ProcessEnv) => unknown)(env[spec.name], env);
  return read as Settings;
}

let current: Settings | undefined;

/** This process's settings, read from its environment the first time they are asked for. */
export function settings(): Settings {
  current ??= readSettings(process.env);
  return current;
}

/** The environment variables a person may set, for `lambda-hls --help`. */
export function settingsHelp(): string {
  const shown = SETTINGS.filter((s) => s.scope !== 'stack');
  const width = Math.max(...shown.map((s) => s.name.length)) + 2;
  return shown.map((s) => `  ${s.name.padEnd(width)}${s.help} (default ${s.shown})`).join('\n');
}

/** The README's environment table (a test holds the README to it). */
export function settingsTable(): string {
  const where: Record<Scope, string> = { local: 'local', both: 'local, deployed', stack: 'deployed, set by the stack' };
  return [
    '| variable | default | read by | what it does |',
    '|---|---|---|---|',
    // `<stage>` would be read as an HTML tag.
    ...SETTINGS.map((s) => `| \`${s.name}\` | ${s.shown || '—'} | ${where[s.scope]} | ${s.help.replace(/</g, '&lt;')} |`),
  ].join('\n');
}
