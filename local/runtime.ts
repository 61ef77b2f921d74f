// The embedded default: local adapters under $LAMBDA_HLS_HOME, and each Task of the state
// machine bound to its step with them.
import { tmpdir } from 'node:os';
import { ffmpegMediaTool } from '../src/adapters/ffmpeg/media-tool';
import type { LocalCodeStore } from '../src/adapters/local/code-store';
import { localAdapters, stepLimits, type LocalConfig } from '../src/adapters/local/config';
import type { LocalObjectStore } from '../src/adapters/local/object-store';
import type { UrlSigner } from '../src/adapters/local/signer';
import type { RetryOptions } from '../src/core/retry';
import type { CodeStore, MediaTool, ObjectStore } from '../src/ports';
import { cleanUp } from '../functions/clean-up/step';
import { computeOffsets } from '../functions/compute-offsets/step';
import { packageBatch } from '../functions/package-segments/step';
import { registerRoute } from '../functions/register-route/step';
import { segmentMedia } from '../functions/segment-media/step';
import { validateInput } from '../functions/validate-input/step';
import { writePlaylist } from '../functions/write-playlist/step';
import type { TaskHandler } from './engine';

export { configFromEnv, type LocalConfig } from '../src/adapters/local/config';

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
  const adapters = localAdapters(config, () => {
    if (!baseUrl) throw new Error('the local code server is not running');
    return baseUrl;
  });
  return {
    config,
    ...adapters,
    media,
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
export function bindSteps(ports: StepPorts, options: { retry?: RetryOptions } = {}): Record<string, TaskHandler> {
  const { objects, code, media, config } = ports;
  const { retry } = options;
  const functionPrefix = config.functionPrefix;
  const limits = stepLimits(config);
  return {
    validateInput: (e) => validateInput(e, { objects, media, functionPrefix, ...limits }),
    segmentMedia: (e) => segmentMedia(e, { objects, media, code, scratchDir: tmpdir(), ...limits }),
    packageSegments: (e) => packageBatch(e, { objects, code, functionPrefix, retry }),
    computeOffsets: (e) => computeOffsets(e, { objects, code, retry }),
    writePlaylist: (e) => writePlaylist(e, { objects }),
    registerRoute: (e) => registerRoute(e, { objects, code, functionPrefix }),
    cleanUp: (e) => cleanUp(e, { objects, code, functionPrefix }),
  };
}
