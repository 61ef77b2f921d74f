// Settings of the local backend, from the environment.
import { join } from 'node:path';
import { DEFAULT_QUOTA_BYTES, LocalCodeStore } from './code-store';
import { LocalObjectStore } from './object-store';
import { DEFAULT_PACKING, MAX_PACKAGE_BYTES, type PackingLimits } from '../../core/plan';
import { homeDir } from './paths';
import { DEFAULT_URL_LIFETIME_SECONDS, UrlSigner } from './signer';

/** Largest input accepted by default: 10 GiB. */
export const DEFAULT_MAX_INPUT_BYTES = 10 * 1024 ** 3;

export interface LocalConfig {
  home: string;
  /** Prefix of segment function names; with the video id they stay within 64 characters. */
  functionPrefix: string;
  maxInputBytes: number;
  /** Largest segment a package may hold: Lambda's 250 MB unless set lower. */
  maxPackageBytes: number;
  /** Zip bytes consecutive segments are packed up to: the 50 MB direct upload unless set (≤ 250 MB, via S3). */
  packageBytes: number;
  quotaBytes: number;
  urlLifetimeSeconds: number;
}

function positive(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got ${JSON.stringify(raw)}`);
  return value;
}

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): LocalConfig {
  return {
    home: homeDir(env),
    functionPrefix: env.LAMBDA_HLS_FUNCTION_PREFIX ?? 'lhls-',
    maxInputBytes: positive(env, 'LAMBDA_HLS_MAX_INPUT_BYTES', DEFAULT_MAX_INPUT_BYTES),
    maxPackageBytes: Math.min(MAX_PACKAGE_BYTES, positive(env, 'LAMBDA_HLS_MAX_PACKAGE_BYTES', MAX_PACKAGE_BYTES)),
    packageBytes: Math.min(MAX_PACKAGE_BYTES, positive(env, 'LAMBDA_HLS_PACKAGE_BYTES', DEFAULT_PACKING.maxBytes)),
    quotaBytes: positive(env, 'LAMBDA_HLS_CODE_QUOTA_BYTES', DEFAULT_QUOTA_BYTES),
    urlLifetimeSeconds: positive(env, 'LAMBDA_HLS_URL_LIFETIME_SECONDS', DEFAULT_URL_LIFETIME_SECONDS),
  };
}

/** The size limits the steps take from the configuration (ValidateInput and SegmentMedia). */
export function stepLimits(config: LocalConfig): { maxInputBytes: number; maxPackageBytes: number; packing: PackingLimits } {
  return {
    maxInputBytes: config.maxInputBytes,
    maxPackageBytes: config.maxPackageBytes,
    packing: { ...DEFAULT_PACKING, maxBytes: config.packageBytes },
  };
}

/** The local object store, code store and URL signer for one home folder. */
export function localAdapters(config: LocalConfig, baseUrl: () => string) {
  const signer = UrlSigner.fromFile(join(config.home, 'signing-key'));
  return {
    signer,
    objects: new LocalObjectStore(join(config.home, 'buckets')),
    code: new LocalCodeStore({
      root: join(config.home, 'functions'),
      signer,
      baseUrl,
      urlLifetimeSeconds: config.urlLifetimeSeconds,
      quotaBytes: config.quotaBytes,
    }),
  };
}
