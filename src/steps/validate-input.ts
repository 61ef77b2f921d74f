// ValidateInput: is this an .mp4/.mp3 we can convert? Cheap checks first (name, size), then
// ffprobe, so a 4 GB .avi is refused without reading a byte of it.
import { EmptyInput, InputNotFound, InputTooLarge, NotMedia, TruncatedInput } from '../core/errors';
import type { ConversionRequest } from '../core/parse';
import type { Job, ProbeResult } from '../core/model';
import { type CaptionSource, describeCaptionSources, languageTag, sidecarPrefix, sidecarsOf, UNDETERMINED } from '../core/captions';
import { baseName, checkNamesFit, FORMAT_OF, revisionFor, supportedExtension, videoIdFor } from '../core/naming';
import { encodeLimitsOf, isChunked, planChunks, type EncodeSettings } from '../core/chunks';
import { planEncoding } from '../core/encoding';
import { formatBytes } from '../core/units';
import type { Ports } from '../ports';
import { readRouteState, refuseIfPublished, refuseIfSuperseded } from '../registry/routes';
import { entry, ENCODE_VARIABLES } from './entry';
import { describePlan } from '../core/encoding';

import { parseExecutionInput as parseValidateInput } from '../core/parse';

export { parseValidateInput };

export type ValidateInputPorts = Pick<Ports, 'objects' | 'media'>;

/** And how a transcode may be split (concurrency, the encoding function's timeout, speed). */
export interface ValidateInputSettings extends EncodeSettings {
  /** Largest input accepted, in bytes. */
  maxInputBytes: number;
  /** Prefix of every segment function name (with the video id it must fit in 64 characters). */
  functionPrefix: string;
  /** Mixed into video ids (LAMBDA_HLS_VIDEO_ID_SECRET); none by default. */
  videoIdSecret?: string;
}

export async function validateInput(input: ConversionRequest, ports: ValidateInputPorts, settings: ValidateInputSettings): Promise<Job> {
  const key = input.source.key;
  const name = baseName(key);
  const extension = supportedExtension(key);

  const head = await ports.objects.head('input', key);
  if (!head) throw new InputNotFound(`${JSON.stringify(name)} is not in the input bucket (deleted before conversion?)`);
  if (head.bytes === 0) throw new EmptyInput(`${JSON.stringify(name)} is empty (0 bytes)`);
  if (head.bytes > settings.maxInputBytes) {
    throw new InputTooLarge(`${JSON.stringify(name)} is ${formatBytes(head.bytes)}; the limit is ${formatBytes(settings.maxInputBytes)}`);
  }

  const videoId = videoIdFor(key, { secret: settings.videoIdSecret, functionPrefix: settings.functionPrefix });
  // Started by hand from the console: named after this upload of the key, as the S3 trigger names it.
  const revision = input.revision ?? revisionFor(head.version ?? 'unversioned', input.options);
  checkNamesFit(settings.functionPrefix, videoId, revision);
  // The console's New execution copies the previous input, revision included: never rebuild what players hold.
  const seen = await readRouteState(ports.objects, videoId);
  refuseIfPublished(
    seen.route,
    videoId,
    revision,
    input.revision ? 'start the execution without "revision" to build a new one' : 'it is converted already, with these options',
  );
  // A later upload of the key served already: this one is not converted only to be refused at the end.
  refuseIfSuperseded(seen.route, input.upload, key);

  // Read as its extension says: a WAV named .mp3 or a DASH manifest named .mp4 is refused, not followed.
  const location = await ports.objects.readableLocation('input', key);
  const media = await ports.media.probe(location, FORMAT_OF[extension]).catch((error: unknown) => {
    if (error instanceof NotMedia) throw new NotMedia(`${JSON.stringify(name)}: ${error.message}`);
    if (error instanceof TruncatedInput) throw new TruncatedInput(`${JSON.stringify(name)}: ${error.message}`);
    throw error;
  });
  // An .mp4 of sound alone (an .m4a renamed, a voice memo) becomes audio-only HLS, as an .mp3 does.
  if (extension === '.mp4' && !media.video && !media.audio) {
    throw new NotMedia(`${JSON.stringify(name)} has neither video nor audio`);
  }
  if (extension === '.mp3' && !media.audio) {
    throw new NotMedia(`${JSON.stringify(name)} has no audio stream`);
  }
  if (!(media.durationSeconds > 0)) {
    throw new NotMedia(`${JSON.stringify(name)} has no playable duration`);
  }
  const source = { key, bytes: head.bytes, extension, kind: media.video ? ('video' as const) : ('audio' as const) };
  const plan = planEncoding({ source, media, options: input.options });
  // Limits before money: a transcode that cannot fit even in chunks fails here (TranscodeTooLarge).
  if (isChunked(plan)) planChunks({ source, media, options: input.options }, plan, encodeLimitsOf(settings));
  const captions = await captionsOf(key, media, ports);
  return {
    videoId,
    revision,
    source,
    media,
    options: input.options,
    plan,
    ...(captions.length > 0 && { captions }),
    ...(input.execution && { execution: input.execution }),
    ...(input.upload && { upload: input.upload }),
    // What RegisterRoute compares the record with, to tell a deletion since from a later run's write.
    basis: seen.etag === undefined ? {} : { routeEtag: seen.etag },
  };
}

/**
 * The source's captions: the sidecar files beside it in the input bucket (`lecture.en.srt` for
 * `lecture.mp4`), then its own text streams. MakeCaptions reads them; a bad one is left out there.
 */
async function captionsOf(key: string, media: ProbeResult, ports: ValidateInputPorts): Promise<CaptionSource[]> {
  const files = sidecarsOf(
    key,
    (await ports.objects.list('input', sidecarPrefix(key))).map((o) => o.key),
  );
  const streams = (media.textTracks ?? []).map((t) => ({
    stream: t.stream,
    codec: t.codec,
    language: (t.language && languageTag(t.language)) || UNDETERMINED,
    ...(t.title && { title: t.title }),
  }));
  return [...files, ...streams];
}

/** validateInput's entry in the step table. */
export const validateInputStep = entry({
  invokedBy: 'state machine',
  ports: ['objects', 'media'],
  variables: ['LAMBDA_HLS_FUNCTION_PREFIX', 'LAMBDA_HLS_VIDEO_ID_SECRET', ...ENCODE_VARIABLES],
  // Head and presigned GET of the upload for ffprobe; the route, to refuse a published revision.
  access: { objects: { input: ['get', 'list'], 'output/routes': ['get'], output: ['list'] } },
  parse: parseValidateInput,
  run: validateInput,
  progress: ({ plan, captions }) =>
    plan
      ? {
          notes: [describePlan(plan), ...(captions ? [describeCaptionSources(captions)] : [])],
          ...(plan.warnings?.length && { warnings: plan.warnings }),
        }
      : {},
});
