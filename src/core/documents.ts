// The JSON documents the steps keep in buckets, checked field by field when they are read back:
// a document of the wrong shape fails with InvalidRequest naming the field, never as a cast that
// breaks three calls later.
import type { RoutePictures } from './previews';
import type { RouteCaptions } from './captions';
import { InvalidRequest } from './errors';
import { arrayAt, numberAt, objectAt, parseEncodingPlan, renditionOrRungAt, revisionAt, stringAt, videoIdAt } from './parse';
import type {
  BatchDocument,
  ChunkDocument,
  ChunkManifest,
  DeletedRoute,
  SegmentRecord,
  OffsetsDocument,
  PackageEntry,
  PackageReceipt,
  RenditionPlaylist,
  RouteRecord,
  SegmentManifest,
} from './model';

export type DocumentParser<T> = (value: unknown, path: string) => T;

function entryAt(value: unknown, path: string): PackageEntry {
  const raw = objectAt(value, path);
  return {
    index: numberAt(raw.index, `${path}.index`),
    name: stringAt(raw.name, `${path}.name`),
    bytes: numberAt(raw.bytes, `${path}.bytes`),
    crc32: numberAt(raw.crc32, `${path}.crc32`),
  };
}

/** Each item of an array as an object, parsed with its own path (`segments[3]`) for messages. */
function objectsAt<T>(value: unknown, path: string, item: (raw: Record<string, unknown>, at: string) => T): T[] {
  return arrayAt(value, path).map((v, i) => item(objectAt(v, `${path}[${i}]`), `${path}[${i}]`));
}

function stringsAt(value: unknown, path: string): string[] {
  return arrayAt(value, path).map((v, i) => stringAt(v, `${path}[${i}]`));
}

/** A ladder's segment's rung, its number within it and (its first) its CODECS; absent with one rendition. */
function rungPlaceAt(segment: Record<string, unknown>, at: string): Pick<SegmentRecord, 'rendition' | 'position' | 'codecs' | 'keyframes'> {
  const triple = (value: unknown, where: string) => {
    const items = arrayAt(value, where).map((n, i) => numberAt(n, `${where}[${i}]`));
    if (items.length !== 3) throw new InvalidRequest(`${where} must be [offset, length, seconds]`);
    return items;
  };
  return {
    ...(segment.rendition !== undefined && { rendition: renditionOrRungAt(segment.rendition, `${at}.rendition`) }),
    ...(segment.position !== undefined && { position: numberAt(segment.position, `${at}.position`) }),
    ...(segment.codecs !== undefined && { codecs: stringAt(segment.codecs, `${at}.codecs`) }),
    ...(segment.keyframes !== undefined && {
      keyframes: arrayAt(segment.keyframes, `${at}.keyframes`).map((k, i) => triple(k, `${at}.keyframes[${i}]`)),
    }),
  };
}

function segmentsAt(value: unknown, path: string): SegmentRecord[] {
  return objectsAt(value, path, (segment, at) => ({
    index: numberAt(segment.index, `${at}.index`),
    ...rungPlaceAt(segment, at),
    key: stringAt(segment.key, `${at}.key`),
    bytes: numberAt(segment.bytes, `${at}.bytes`),
    crc32: numberAt(segment.crc32, `${at}.crc32`),
    start: numberAt(segment.start, `${at}.start`),
    duration: numberAt(segment.duration, `${at}.duration`),
  }));
}

/** A document's encoding plan: `plan`, or `encoding` as documents before it named it (a run in flight across a deploy). */
function planAt(raw: Record<string, unknown>, path: string) {
  return raw.plan === undefined && raw.encoding !== undefined
    ? parseEncodingPlan(raw.encoding, `${path}.encoding`)
    : parseEncodingPlan(raw.plan, `${path}.plan`);
}

/** SegmentMedia's manifest: every segment with its key, size, CRC-32 and timing. */
export const parseManifest: DocumentParser<SegmentManifest> = (value, path) => {
  const raw = objectAt(value, path);
  return {
    videoId: videoIdAt(raw.videoId, `${path}.videoId`),
    revision: revisionAt(raw.revision, `${path}.revision`),
    plan: planAt(raw, path),
    segments: segmentsAt(raw.segments, `${path}.segments`),
  };
};

/** A transcode's chunks, as SegmentMedia planned them for every EncodeChunk task. */
export const parseChunkDocument: DocumentParser<ChunkDocument> = (value, path) => {
  const raw = objectAt(value, path);
  const source = objectAt(raw.source, `${path}.source`);
  return {
    videoId: videoIdAt(raw.videoId, `${path}.videoId`),
    revision: revisionAt(raw.revision, `${path}.revision`),
    source: { key: stringAt(source.key, `${path}.source.key`), extension: stringAt(source.extension, `${path}.source.extension`) },
    plan: planAt(raw, path),
    segmentSeconds: numberAt(raw.segmentSeconds, `${path}.segmentSeconds`),
    timeOffset: numberAt(raw.timeOffset, `${path}.timeOffset`),
    sourceStart: numberAt(raw.sourceStart, `${path}.sourceStart`),
    audioChunks: numberAt(raw.audioChunks, `${path}.audioChunks`),
    chunks: objectsAt(raw.chunks, `${path}.chunks`, (chunk, at) => ({
      chunk: numberAt(chunk.chunk, `${at}.chunk`),
      firstSegment: numberAt(chunk.firstSegment, `${at}.firstSegment`),
      segmentCount: numberAt(chunk.segmentCount, `${at}.segmentCount`),
      start: numberAt(chunk.start, `${at}.start`),
      ...(chunk.end !== undefined && { end: numberAt(chunk.end, `${at}.end`) }),
    })),
    ...(raw.cuts !== undefined && { cuts: arrayAt(raw.cuts, `${path}.cuts`).map((c, i) => numberAt(c, `${path}.cuts[${i}]`)) }),
  };
};

/** What one EncodeChunk task made. */
export const parseChunkManifest: DocumentParser<ChunkManifest> = (value, path) => {
  const raw = objectAt(value, path);
  return {
    chunk: numberAt(raw.chunk, `${path}.chunk`),
    segments: numberAt(raw.segments, `${path}.segments`),
    seconds: numberAt(raw.seconds, `${path}.seconds`),
    records: segmentsAt(raw.records, `${path}.records`),
  };
};

/** One PackageBatch iteration's plan. */
export const parseBatch: DocumentParser<BatchDocument> = (value, path) => {
  const raw = objectAt(value, path);
  return {
    videoId: videoIdAt(raw.videoId, `${path}.videoId`),
    revision: revisionAt(raw.revision, `${path}.revision`),
    batch: numberAt(raw.batch, `${path}.batch`),
    packages: objectsAt(raw.packages, `${path}.packages`, (pkg, at) => ({
      package: numberAt(pkg.package, `${at}.package`),
      bytes: numberAt(pkg.bytes, `${at}.bytes`),
      entries: objectsAt(pkg.entries, `${at}.entries`, (entry, where) => ({
        ...entryAt(entry, where),
        key: stringAt(entry.key, `${where}.key`),
      })),
    })),
  };
};

/** What one PackageBatch iteration made: a receipt per package. */
export const parseReceipts: DocumentParser<PackageReceipt[]> = (value, path) =>
  objectsAt(value, path, (raw, at) => ({
    package: numberAt(raw.package, `${at}.package`),
    functionName: stringAt(raw.functionName, `${at}.functionName`),
    codeSha256: stringAt(raw.codeSha256, `${at}.codeSha256`),
    zipBytes: numberAt(raw.zipBytes, `${at}.zipBytes`),
    created: raw.created === true,
    entries: objectsAt(raw.entries, `${at}.entries`, entryAt),
  }));

/** ComputeOffsets' result: each segment's package, offset and length. */
export const parseOffsets: DocumentParser<OffsetsDocument> = (value, path) => {
  const raw = objectAt(value, path);
  return {
    videoId: videoIdAt(raw.videoId, `${path}.videoId`),
    revision: revisionAt(raw.revision, `${path}.revision`),
    segments: objectsAt(raw.segments, `${path}.segments`, (segment, at) => ({
      index: numberAt(segment.index, `${at}.index`),
      ...rungPlaceAt(segment, at),
      package: numberAt(segment.package, `${at}.package`),
      functionName: stringAt(segment.functionName, `${at}.functionName`),
      offset: numberAt(segment.offset, `${at}.offset`),
      length: numberAt(segment.length, `${at}.length`),
      duration: numberAt(segment.duration, `${at}.duration`),
    })),
  };
};

/** A video's entry in the route registry. */
export const parseRoute: DocumentParser<RouteRecord> = (value, path) => {
  const raw = objectAt(value, path);
  const kind = stringAt(raw.kind, `${path}.kind`);
  if (kind !== 'video' && kind !== 'audio') throw new InvalidRequest(`${path}.kind must be video or audio`);
  const videoId = videoIdAt(raw.videoId, `${path}.videoId`);
  const registeredAt = stringAt(raw.registeredAt, `${path}.registeredAt`);
  const retired =
    raw.retired === undefined
      ? []
      : objectsAt(raw.retired, `${path}.retired`, (r, at) => ({
          revision: revisionAt(r.revision, `${at}.revision`),
          packages: stringsAt(r.packages, `${at}.packages`),
          playlistKey: stringAt(r.playlistKey, `${at}.playlistKey`),
          until: stringAt(r.until, `${at}.until`),
          ...(r.addressing === 'revision' && { addressing: 'revision' as const }),
          ...(r.renditions !== undefined && { renditions: renditionPlaylistsAt(r.renditions, `${at}.renditions`) }),
          ...(r.pictures !== undefined && { pictures: routePicturesAt(r.pictures, `${at}.pictures`) }),
        }));
  // Records written before retirement had `replaced`: a revision already past its grace.
  if (raw.replaced !== undefined) {
    const replaced = objectAt(raw.replaced, `${path}.replaced`);
    const revision = revisionAt(replaced.revision, `${path}.replaced.revision`);
    retired.push({
      revision,
      packages: stringsAt(replaced.packages, `${path}.replaced.packages`),
      playlistKey: `v/${videoId}/${revision}/index.m3u8`,
      until: registeredAt,
    });
  }
  if (raw.addressing !== undefined && raw.addressing !== 'revision') throw new InvalidRequest(`${path}.addressing must be "revision"`);
  const upload = raw.upload === undefined ? undefined : objectAt(raw.upload, `${path}.upload`);
  return {
    videoId,
    revision: revisionAt(raw.revision, `${path}.revision`),
    sourceKey: stringAt(raw.sourceKey, `${path}.sourceKey`),
    kind,
    playlistKey: stringAt(raw.playlistKey, `${path}.playlistKey`),
    durationSeconds: numberAt(raw.durationSeconds, `${path}.durationSeconds`),
    segmentCount: numberAt(raw.segmentCount, `${path}.segmentCount`),
    packages: stringsAt(raw.packages, `${path}.packages`),
    registeredAt,
    ...(raw.addressing === 'revision' && { addressing: 'revision' as const }),
    ...(retired.length > 0 && { retired }),
    ...(upload && { upload: { sequencer: stringAt(upload.sequencer, `${path}.upload.sequencer`) } }),
    ...(raw.renditions !== undefined && { renditions: renditionPlaylistsAt(raw.renditions, `${path}.renditions`) }),
    ...(raw.pictures !== undefined && { pictures: routePicturesAt(raw.pictures, `${path}.pictures`) }),
    ...(raw.captions !== undefined && { captions: routeCaptionsAt(raw.captions, `${path}.captions`) }),
  };
};

/** A revision's captions in a route record: its set and each track, their keys in the set's own folder. */
function routeCaptionsAt(value: unknown, path: string): RouteCaptions {
  const raw = objectAt(value, path);
  const set = stringAt(raw.set, `${path}.set`);
  if (!/^[0-9a-f]{8}$/.test(set)) throw new InvalidRequest(`${path}.set is not a caption set`);
  const inSet = new RegExp(`^v/[a-z0-9-]{1,64}/[a-z0-9]{4,16}/subtitles-${set}/[0-9]{1,2}\\.(m3u8|vtt)$`);
  const tracks = objectsAt(raw.tracks, `${path}.tracks`, (t, at) => {
    const [playlistKey, trackKey] = [stringAt(t.playlistKey, `${at}.playlistKey`), stringAt(t.trackKey, `${at}.trackKey`)];
    if (!inSet.test(playlistKey) || !inSet.test(trackKey)) throw new InvalidRequest(`${at} names a file outside its caption set`);
    return {
      id: numberAt(t.id, `${at}.id`),
      language: stringAt(t.language, `${at}.language`),
      name: stringAt(t.name, `${at}.name`),
      playlistKey,
      trackKey,
    };
  });
  return { set, tracks };
}

/** A revision's pictures in a route record: keys under its own output prefix only (a record names nothing else to serve). */
function routePicturesAt(value: unknown, path: string): RoutePictures {
  const raw = objectAt(value, path);
  const pictures: RoutePictures = {};
  for (const name of ['posterKey', 'storyboardKey', 'storyboardImageKey'] as const) {
    if (raw[name] === undefined) continue;
    const key = stringAt(raw[name], `${path}.${name}`);
    if (!/^v\/[a-z0-9-]{1,64}\/[a-z0-9]{4,16}\/[a-z0-9.]+$/.test(key))
      throw new InvalidRequest(`${path}.${name} is not a revision's picture key`);
    pictures[name] = key;
  }
  return pictures;
}

/** A route record's renditions: each a rendition of the table or a ladder's rung, its media playlist's key, and a rung's variant. */
function renditionPlaylistsAt(value: unknown, path: string): RenditionPlaylist[] {
  return objectsAt(value, path, (r, at) => {
    const number = (name: 'width' | 'height' | 'bandwidth' | 'averageBandwidth') =>
      r[name] === undefined ? {} : { [name]: numberAt(r[name], `${at}.${name}`) };
    return {
      rendition: renditionOrRungAt(r.rendition, `${at}.rendition`),
      playlistKey: stringAt(r.playlistKey, `${at}.playlistKey`),
      ...number('width'),
      ...number('height'),
      ...number('bandwidth'),
      ...number('averageBandwidth'),
      ...(r.codecs !== undefined && { codecs: stringAt(r.codecs, `${at}.codecs`) }),
      ...(r.iFramesKey !== undefined && { iFramesKey: stringAt(r.iFramesKey, `${at}.iFramesKey`) }),
    };
  });
}

/** Parses a document's text; text that is not JSON fails like a document of the wrong shape. */
/** A route record, or the mark a deployed `delete` leaves in its place (`{videoId, deletedAt}`). */
export const parseRouteDocument: DocumentParser<RouteRecord | DeletedRoute> = (value, path) => {
  const raw = objectAt(value, path);
  if (raw.deletedAt !== undefined && raw.revision === undefined) {
    return { videoId: videoIdAt(raw.videoId, `${path}.videoId`), deletedAt: stringAt(raw.deletedAt, `${path}.deletedAt`) };
  }
  return parseRoute(value, path);
};

export function parseDocument<T>(text: string, path: string, parse: DocumentParser<T>): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InvalidRequest(`${path} is not JSON (${(error as Error).message})`);
  }
  return parse(value, path);
}
