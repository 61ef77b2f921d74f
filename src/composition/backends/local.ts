// The local backend, the embedded default: buckets and functions are folders under
// $LAMBDA_HLS_HOME, package URLs are signed by a key kept there and served by the local server,
// media is ffmpeg from npm (or FFMPEG_PATH). Every port is built on first use.
import { join } from 'node:path';
import type { LocalCodeStore } from '../../adapters/local/code-store';
import { privateFolder } from '../../adapters/local/paths';
import type { LocalObjectStore } from '../../adapters/local/object-store';
import type { UrlSigner } from '../../adapters/local/signer';
import type { Ports } from '../../ports';
import type { Settings } from '../settings';
import { BackendUnavailable, lazily } from './lazy';

export interface LocalBackend extends Ports {
  settings: Settings & { scratchDir: string };
  objects: LocalObjectStore;
  code: LocalCodeStore;
  /** Signs package URLs (`convert`) and checks them (`serve`), with the key in the home folder. */
  signer: UrlSigner;
  /** Where the local server that serves package URLs listens; set once it is up. */
  setBaseUrl(url: string): void;
}

export function localBackend(given: Settings): LocalBackend {
  // Scratch space beside the buckets, on the same disk, unless a caller chose another folder: a
  // finished segment is then renamed into the work bucket, not copied (the system's temporary
  // folder, Lambda's, is often another disk or memory on a laptop).
  const settings = { ...given, scratchDir: given.scratchDir ?? join(given.home, 'scratch') };
  let baseUrl = '';
  type Built = Omit<LocalBackend, 'settings' | 'setBaseUrl'>;
  const backend: Built = lazily<Built>({
    // Each adapter's module is loaded with its port (`--version` loads none of them).
    signer: () =>
      (require('../../adapters/local/signer') as typeof import('../../adapters/local/signer')).UrlSigner.fromFile(
        join(settings.home, 'signing-key'),
      ),
    objects: () =>
      new (require('../../adapters/local/object-store') as typeof import('../../adapters/local/object-store')).LocalObjectStore(
        privateFolder(join(settings.home, 'buckets')),
      ),
    code: () =>
      new (require('../../adapters/local/code-store') as typeof import('../../adapters/local/code-store')).LocalCodeStore({
        root: privateFolder(join(settings.home, 'functions')),
        // Read when a URL is signed: listing functions needs no key (nor node:crypto).
        get signer() {
          return backend.signer;
        },
        baseUrl: () => {
          if (!baseUrl) throw new BackendUnavailable('the local code server is not running');
          return baseUrl;
        },
        urlLifetimeSeconds: settings.urlLifetimeSeconds,
        quotaBytes: settings.quotaBytes,
      }),
    // ffmpeg's adapter (child processes, the loopback relay) only for what converts.
    media: () => {
      const { ffmpegMediaTool, DEFAULT_LIMITS } =
        require('../../adapters/ffmpeg/media-tool') as typeof import('../../adapters/ffmpeg/media-tool');
      return ffmpegMediaTool(settings, { ...DEFAULT_LIMITS, pendingBytes: settings.scratchPendingBytes, memoryMb: settings.mediaMemoryMb });
    },
    executions: () => {
      const refuse = () => Promise.reject(new BackendUnavailable('locally, executions are started and followed by lambda-hls convert'));
      return { start: refuse, status: refuse };
    },
    clock: () => Date.now,
  });
  // Own properties beside the getters, so `{ ...backend, code }` (tests wrapping a port) keeps them all.
  return Object.assign(backend, {
    settings,
    setBaseUrl(url: string) {
      baseUrl = url;
    },
  });
}
