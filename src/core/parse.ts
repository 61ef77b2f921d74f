// Parsing untrusted JSON — an execution input, a step's event — into the model's shapes, with an
// InvalidRequest that names the field and what it should be.
import type { CaptionSource, CaptionsResult } from './captions';
import { InvalidRequest } from './errors';
import { isRevision, isVideoId } from './naming';
import type {
  ColourPlan,
  ConversionOptions,
  EncodeChunkInput,
  EncodingPlan,
  ExecutionInput,
  HdrTransfer,
  Job,
  LadderOption,
  ProbeResult,
  RungPlan,
  StreamPlan,
  Upload,
} from './model';
import { DEFAULT_OPTIONS } from './model';
import { isRenditionName, RENDITION_NAMES, type RenditionName } from './renditions';
import { LADDER_HEIGHTS } from './ladder';

type Json = Record<string, unknown>;

function fail(path: string, expected: string): never {
  throw new InvalidRequest(`${path} must be ${expected}`);
}

export function objectAt(value: unknown, path: string): Json {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(path, 'an object');
  return value as Json;
}

export function stringAt(value: unknown, path: string): string {
  if (typeof value !== 'string' || value.length === 0) fail(path, 'a non-empty string');
  return value;
}

export function numberAt(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) fail(path, 'a number');
  return value;
}

export function arrayAt(value: unknown, path: string): unknown[] {
  if (!Array.isArray(value)) fail(path, 'an array');
  return value;
}

export function videoIdAt(value: unknown, path: string): string {
  const id = stringAt(value, path);
  if (!isVideoId(id)) fail(path, 'a video id (lower-case letters, digits and hyphens)');
  return id;
}

export function revisionAt(value: unknown, path: string): string {
  const revision = stringAt(value, path);
  if (!isRevision(revision)) fail(path, 'a revision of 4 to 16 lower-case letters or digits');
  return revision;
}

/** A rendition's name (./renditions.ts): the profile option, a plan's rendition, a route record's. */
export function renditionAt(value: unknown, path: string): RenditionName {
  const name = stringAt(value, path);
  if (!isRenditionName(name)) fail(path, `one of ${RENDITION_NAMES.join(', ')}`);
  return name;
}

const VIDEO_PLANS: readonly EncodingPlan['video'][] = ['copy', 'encode', 'ladder', 'none'];
/**
 * A plan written before the rendition table named the encoded picture by its codec and size: a run
 * in flight across a deploy (its Job in the next state's input, its chunk document) reads as today's.
 */
const VIDEO_PLANS_BEFORE_RENDITIONS: Record<string, Pick<EncodingPlan, 'video' | 'rendition'>> = {
  h264: { video: 'encode', rendition: 'source' },
  'h264-360p': { video: 'encode', rendition: '360p' },
};
const AUDIO_PLANS: readonly EncodingPlan['audio'][] = ['copy', 'aac', 'none'];

function parseColourPlan(value: unknown, path: string): ColourPlan {
  const raw = objectAt(value, path);
  const from = objectAt(raw.from, `${path}.from`);
  const to = objectAt(raw.to, `${path}.to`);
  const oneOf = <T extends string>(v: unknown, at: string, allowed: readonly T[]): T => {
    const text = stringAt(v, at);
    if (!(allowed as readonly string[]).includes(text)) fail(at, `one of ${allowed.join(', ')}`);
    return text as T;
  };
  return {
    from: {
      matrix: oneOf(from.matrix, `${path}.from.matrix`, ['bt709', 'bt601', 'bt2020', 'rgb'] as const),
      range: oneOf(from.range, `${path}.from.range`, ['tv', 'pc'] as const),
    },
    to: {
      matrix: oneOf(to.matrix, `${path}.to.matrix`, ['bt709', 'bt601', 'bt2020'] as const),
      primaries: stringAt(to.primaries, `${path}.to.primaries`),
      transfer: stringAt(to.transfer, `${path}.to.transfer`),
    },
  };
}

export function parseEncodingPlan(value: unknown, path: string): EncodingPlan {
  const raw = objectAt(value, path);
  const given = stringAt(raw.video, `${path}.video`);
  const audio = stringAt(raw.audio, `${path}.audio`);
  const before = VIDEO_PLANS_BEFORE_RENDITIONS[given];
  if (!before && !(VIDEO_PLANS as readonly string[]).includes(given)) fail(`${path}.video`, `one of ${VIDEO_PLANS.join(', ')}`);
  const video = before?.video ?? (given as EncodingPlan['video']);
  const named = raw.rendition === undefined ? before?.rendition : renditionAt(raw.rendition, `${path}.rendition`);
  if (video === 'encode' && named === undefined) fail(`${path}.rendition`, `one of ${RENDITION_NAMES.join(', ')} (the picture is encoded)`);
  if (!(AUDIO_PLANS as readonly string[]).includes(audio)) fail(`${path}.audio`, `one of ${AUDIO_PLANS.join(', ')}`);
  const toneMap = raw.toneMap === undefined ? undefined : stringAt(raw.toneMap, `${path}.toneMap`);
  if (toneMap !== undefined && toneMap !== 'hlg' && toneMap !== 'pq') fail(`${path}.toneMap`, 'hlg or pq');
  const words = (value: unknown, at: string): string[] | undefined => {
    if (value === undefined) return undefined;
    if (!Array.isArray(value)) fail(at, 'a list of strings');
    return (value as unknown[]).map((item, i) => stringAt(item, `${at}[${i}]`));
  };
  const reasons = words(raw.reasons, `${path}.reasons`);
  const warnings = words(raw.warnings, `${path}.warnings`);
  const colour = raw.colour === undefined ? undefined : parseColourPlan(raw.colour, `${path}.colour`);
  const plan: StreamPlan = {
    audio: audio as EncodingPlan['audio'],
    ...(toneMap !== undefined && { toneMap: toneMap as HdrTransfer }),
    ...(colour && { colour }),
    ...(reasons && { reasons }),
    ...(warnings && { warnings }),
  };
  if (video === 'encode') return { video, rendition: named!, ...plan };
  if (video === 'ladder')
    return { video, rungs: arrayAt(raw.rungs, `${path}.rungs`).map((r, i) => rungAt(r, `${path}.rungs[${i}]`)), ...plan };
  return { video: video as 'copy' | 'none', ...plan };
}

/** A rung's name: `720p`, or a rendition's. */
const RUNG_NAME = /^[1-9][0-9]{1,3}p$/;

/** A rendition's name in a route record or a segment's: a profile's (./renditions.ts), or a ladder's rung (`720p`). */
export function renditionOrRungAt(value: unknown, path: string): string {
  const name = stringAt(value, path);
  if (!isRenditionName(name) && !RUNG_NAME.test(name)) fail(path, `one of ${RENDITION_NAMES.join(', ')}, or a rung such as 720p`);
  return name;
}

function rungAt(value: unknown, path: string): RungPlan {
  const raw = objectAt(value, path);
  const whole = (v: unknown, at: string) => {
    const n = numberAt(v, at);
    if (!Number.isInteger(n) || n <= 0) fail(at, 'a whole number above 0');
    return n;
  };
  const profile = stringAt(raw.profile, `${path}.profile`);
  if (profile !== 'baseline' && profile !== 'main' && profile !== 'high') fail(`${path}.profile`, 'baseline, main or high');
  const audio = stringAt(raw.audio, `${path}.audio`);
  if (audio !== 'shared' && audio !== 'low') fail(`${path}.audio`, 'shared or low');
  if (raw.copy !== undefined && raw.copy !== true) fail(`${path}.copy`, 'true, or absent');
  return {
    name: renditionOrRungAt(raw.name, `${path}.name`),
    width: whole(raw.width, `${path}.width`),
    height: whole(raw.height, `${path}.height`),
    kbps: whole(raw.kbps, `${path}.kbps`),
    maxKbps: whole(raw.maxKbps, `${path}.maxKbps`),
    bufferKbps: whole(raw.bufferKbps, `${path}.bufferKbps`),
    profile,
    audio,
    ...(raw.copy === true && { copy: true as const }),
  };
}

/**
 * The `ladder` option: `auto`, `source` (one rendition), or rung heights of the table. Absent, the
 * default (a ladder) — one rendition with `profile` 360p, which is one rendition by its nature.
 */
function ladderAt(value: unknown, path: string, profile: RenditionName): LadderOption {
  if (profile !== DEFAULT_OPTIONS.profile) {
    if (value !== undefined && value !== 'source')
      fail(path, `"source" with "profile": "${profile}" (a profile is one rendition; a ladder makes its own rungs)`);
    return 'source';
  }
  if (value === undefined) return DEFAULT_OPTIONS.ladder ?? 'auto';
  if (value === 'auto' || value === 'source') return value;
  if (!Array.isArray(value) || value.length === 0) fail(path, `"auto", "source", or a list of rung heights (${LADDER_HEIGHTS.join(', ')})`);
  const heights = (value as unknown[]).map((h, i) => numberAt(h, `${path}[${i}]`));
  const unknown = heights.find((h) => !LADDER_HEIGHTS.includes(h));
  if (unknown !== undefined) fail(path, `rung heights of the ladder (${LADDER_HEIGHTS.join(', ')}), not ${unknown}`);
  return [...new Set(heights)].sort((a, b) => b - a);
}

/**
 * Conversion options, the defaults filled in — but a stored job's (`stored`) keeps an absent
 * ladder absent: written before the ladder, it meant one rendition.
 */
export function parseOptions(value: unknown, path = 'options', stored = false): ConversionOptions {
  if (value === undefined || value === null) return { ...DEFAULT_OPTIONS };
  const raw = objectAt(value, path);
  const segmentSeconds =
    raw.segmentSeconds === undefined ? DEFAULT_OPTIONS.segmentSeconds : numberAt(raw.segmentSeconds, `${path}.segmentSeconds`);
  if (segmentSeconds < 1 || segmentSeconds > 60) fail(`${path}.segmentSeconds`, 'between 1 and 60');
  const profile = raw.profile === undefined ? DEFAULT_OPTIONS.profile : renditionAt(raw.profile, `${path}.profile`);
  if (raw.transcode !== undefined && typeof raw.transcode !== 'boolean') fail(`${path}.transcode`, 'true or false');
  const ladder = stored && raw.ladder === undefined ? undefined : ladderAt(raw.ladder, `${path}.ladder`, profile);
  return { segmentSeconds, profile, ...(raw.transcode === true && { transcode: true as const }), ...(ladder && { ladder }) };
}

/**
 * An execution input once checked, with every option filled in. The revision is absent when a
 * person started the run by hand with the console input: ValidateInput derives it then.
 */
export type ConversionRequest = Omit<ExecutionInput, 'revision'> & {
  revision?: string;
  options: ConversionOptions;
  /** The execution's name, as the state machine passes it to ValidateInput. */
  execution?: string;
};

/** What to type in the Step Functions console to start a conversion (README: Deploy to AWS). */
export const CONSOLE_INPUT_HELP =
  'execution input must name the object to convert: {"key": "<object key in the input bucket>"}, ' +
  `optionally with "options": {"segmentSeconds": 1-60, "profile": ${RENDITION_NAMES.map((n) => `"${n}"`).join(' or ')}, "transcode": true or false, "ladder": "auto", "source" or heights such as [720, 360, 234]}`;

/**
 * The S3 trigger and the CLI send `{source: {key}, revision, options}`; a person in the Step
 * Functions console sends `{key, options?}` (the revision then comes from the object's version).
 */
export function parseExecutionInput(value: unknown): ConversionRequest {
  const asObject = (v: unknown) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined);
  const given = asObject(value);
  // ValidateInput's Parameters: the execution's input and its name ({input, execution}).
  const wrapped = given && typeof given.execution === 'string' && 'input' in given;
  const raw = wrapped ? asObject(given.input) : given;
  if (!raw || (raw.source === undefined && raw.key === undefined)) throw new InvalidRequest(CONSOLE_INPUT_HELP);
  const key = raw.source !== undefined ? stringAt(objectAt(raw.source, 'source').key, 'source.key') : stringAt(raw.key, 'key');
  return {
    source: { key },
    ...(raw.revision !== undefined && { revision: revisionAt(raw.revision, 'revision') }),
    options: parseOptions(raw.options),
    ...(raw.upload !== undefined && { upload: uploadAt(raw.upload, 'upload') }),
    ...(wrapped && { execution: given.execution as string }),
  };
}

/** An `upload` field of untrusted JSON: a sequencer of hexadecimal digits, or absent. */
function uploadAt(value: unknown, path: string): Upload | undefined {
  if (value === undefined) return undefined;
  const sequencer = stringAt(objectAt(value, path).sequencer, `${path}.sequencer`);
  if (!/^[0-9A-Fa-f]{1,64}$/.test(sequencer)) fail(`${path}.sequencer`, "the S3 event's sequencer (hexadecimal digits)");
  return { sequencer };
}

/** Steps after ValidateInput receive the Job it produced; check the parts they rely on. */
export function parseJob(value: unknown, path = 'job'): Job {
  const raw = objectAt(value, path);
  const source = objectAt(raw.source, `${path}.source`);
  const kind = stringAt(source.kind, `${path}.source.kind`);
  if (kind !== 'video' && kind !== 'audio') fail(`${path}.source.kind`, 'video or audio');
  const media = objectAt(raw.media, `${path}.media`);
  return {
    videoId: videoIdAt(raw.videoId, `${path}.videoId`),
    revision: revisionAt(raw.revision, `${path}.revision`),
    source: {
      key: stringAt(source.key, `${path}.source.key`),
      bytes: numberAt(source.bytes, `${path}.source.bytes`),
      extension: stringAt(source.extension, `${path}.source.extension`),
      kind,
    },
    media: media as unknown as ProbeResult,
    options: parseOptions(raw.options, `${path}.options`, true),
    ...(raw.plan !== undefined && { plan: parseEncodingPlan(raw.plan, `${path}.plan`) }),
    ...(typeof raw.execution === 'string' && { execution: raw.execution }),
    ...(raw.upload !== undefined && { upload: uploadAt(raw.upload, `${path}.upload`) }),
    ...(raw.basis !== undefined && { basis: basisAt(raw.basis, `${path}.basis`) }),
    ...(raw.captions !== undefined && {
      captions: arrayAt(raw.captions, `${path}.captions`).map((c, i) => captionSourceAt(c, `${path}.captions[${i}]`)),
    }),
  };
}

function captionSourceAt(value: unknown, path: string): CaptionSource {
  const raw = objectAt(value, path);
  const language = stringAt(raw.language, `${path}.language`);
  if (raw.file !== undefined) {
    const format = stringAt(raw.format, `${path}.format`);
    if (format !== 'srt' && format !== 'vtt') fail(`${path}.format`, 'srt or vtt');
    return { file: stringAt(raw.file, `${path}.file`), format, language };
  }
  const stream = numberAt(raw.stream, `${path}.stream`);
  if (!Number.isInteger(stream) || stream < 0) fail(`${path}.stream`, 'a stream index');
  return {
    stream,
    codec: stringAt(raw.codec, `${path}.codec`),
    language,
    ...(typeof raw.title === 'string' && { title: raw.title }),
  };
}

const CAPTION_SET = /^[0-9a-f]{8}$/;

/** MakeCaptions' result as WritePlaylist and RegisterRoute get it: a set of tracks, or none. */
export function captionsResultAt(value: unknown, path: string): CaptionsResult {
  if (value === undefined || value === null) return {};
  const raw = objectAt(value, path);
  const warnings =
    raw.warnings === undefined ? [] : arrayAt(raw.warnings, `${path}.warnings`).map((w, i) => stringAt(w, `${path}.warnings[${i}]`));
  if (raw.set === undefined) return warnings.length > 0 ? { warnings } : {};
  const set = stringAt(raw.set, `${path}.set`);
  if (!CAPTION_SET.test(set)) fail(`${path}.set`, 'a caption set (8 hexadecimal digits)');
  const tracks = arrayAt(raw.tracks, `${path}.tracks`).map((t, i) => {
    const track = objectAt(t, `${path}.tracks[${i}]`);
    const id = numberAt(track.id, `${path}.tracks[${i}].id`);
    if (!Number.isInteger(id) || id < 0 || id > 99) fail(`${path}.tracks[${i}].id`, 'a track number 0-99');
    return {
      id,
      language: stringAt(track.language, `${path}.tracks[${i}].language`),
      name: stringAt(track.name, `${path}.tracks[${i}].name`),
      from: stringAt(track.from, `${path}.tracks[${i}].from`),
      cues: numberAt(track.cues, `${path}.tracks[${i}].cues`),
      playlistKey: stringAt(track.playlistKey, `${path}.tracks[${i}].playlistKey`),
      trackKey: stringAt(track.trackKey, `${path}.tracks[${i}].trackKey`),
    };
  });
  const codecs = raw.codecs === undefined ? undefined : stringAt(raw.codecs, `${path}.codecs`);
  return { set, tracks, ...(codecs && { codecs }), ...(warnings.length > 0 && { warnings }) };
}

function basisAt(value: unknown, path: string): { routeEtag?: string } {
  const raw = objectAt(value, path);
  return raw.routeEtag === undefined ? {} : { routeEtag: stringAt(raw.routeEtag, `${path}.routeEtag`) };
}

export function parseEncodeChunkInput(value: unknown): EncodeChunkInput {
  const raw = objectAt(value, 'input');
  const chunk = numberAt(raw.chunk, 'chunk');
  if (!Number.isInteger(chunk) || chunk < 0) fail('chunk', 'a chunk number (0, 1, 2 …)');
  return { videoId: videoIdAt(raw.videoId, 'videoId'), revision: revisionAt(raw.revision, 'revision'), chunk };
}

/** JoinChunks gets the job (Parameters: job.$: $.job). */
export function parseJoinChunksInput(value: unknown): Job {
  return parseJob(objectAt(value, 'input').job);
}
