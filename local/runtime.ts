// The embedded default: local adapters under $LAMBDA_HLS_HOME, and each Task of the state
// machine bound to its step with them.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ffmpegMediaTool } from '../src/adapters/ffmpeg/media-tool';
import { LocalCodeStore, DEFAULT_QUOTA_BYTES } from '../src/adapters/local/code-store';
import { LocalObjectStore } from '../src/adapters/local/object-store';
import { homeDir } from '../src/adapters/local/paths';
import { DEFAULT_URL_LIFETIME_SECONDS, UrlSigner } from '../src/adapters/local/signer';
import type { CodeStore, MediaTool, ObjectStore } from '../src/ports';
import { cleanUp } from '../functions/clean-up/step';
import { computeOffsets } from '../functions/compute-offsets/step';
import { packageSegment } from '../functions/package-segments/step';
import { registerRoute } from '../functions/register-route/step';
import { segmentMedia } from '../functions/segment-media/step';
import { DEFAULT_MAX_INPUT_BYTES, validateInput } from '../functions/validate-input/step';
import { writePlaylist } from '../functions/write-playlist/step';
import type { TaskHandler } from './engine';

export interface LocalConfig {
  home: string;
  /** Prefix of segment function names; with the video id they stay within 64 characters. */
  functionPrefix: string;
  maxInputBytes: number;
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
    quotaBytes: positive(env, 'LAMBDA_HLS_CODE_QUOTA_BYTES', DEFAULT_QUOTA_BYTES),
    urlLifetimeSeconds: positive(env, 'LAMBDA_HLS_URL_LIFETIME_SECONDS', DEFAULT_URL_LIFETIME_SECONDS),
  };
}

export interface LocalPorts {
  config: LocalConfig;
  objects: LocalObjectStore;
  code: LocalCodeStore;
  media: MediaTool;
  signer: UrlSigner;
  /** Where the local server that serves code URLs listens; set once it is up. */
  setBaseUrl(url: string): void;
}

export function createLocalPorts(config: LocalConfig, media: MediaTool = ffmpegMediaTool()): LocalPorts {
  let baseUrl = '';
  const signer = UrlSigner.fromFile(join(config.home, 'signing-key'));
  return {
    config,
    objects: new LocalObjectStore(join(config.home, 'buckets')),
    code: new LocalCodeStore({
      root: join(config.home, 'functions'),
      signer,
      baseUrl: () => {
        if (!baseUrl) throw new Error('the local code server is not running');
        return baseUrl;
      },
      urlLifetimeSeconds: config.urlLifetimeSeconds,
      quotaBytes: config.quotaBytes,
    }),
    media,
    signer,
    setBaseUrl(url) {
      baseUrl = url;
    },
  };
}

/** What the steps are given: the ports, possibly wrapped (tests inject faults this way). */
export interface StepPorts {
  objects: ObjectStore;
  code: CodeStore;
  media: MediaTool;
  config: LocalConfig;
}

/** Function key (as in serverless.yml and the ASL's Fn::GetAtt) → its step with local ports. */
export function bindSteps(ports: StepPorts): Record<string, TaskHandler> {
  const { objects, code, media, config } = ports;
  const functionPrefix = config.functionPrefix;
  return {
    validateInput: (e) => validateInput(e, { objects, media, maxInputBytes: config.maxInputBytes, functionPrefix }),
    segmentMedia: (e) => segmentMedia(e, { objects, media, code, scratchDir: tmpdir() }),
    packageSegments: (e) => packageSegment(e, { objects, code, functionPrefix }),
    computeOffsets: (e) => computeOffsets(e, { objects, code }),
    writePlaylist: (e) => writePlaylist(e, { objects }),
    registerRoute: (e) => registerRoute(e, { objects, code, functionPrefix }),
    cleanUp: (e) => cleanUp(e, { objects, code, functionPrefix }),
  };
}
