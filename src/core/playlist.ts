// HLS media playlists (RFC 8216). Pure: text in, text out.
import { PlaylistInvalid } from './errors';

export interface PlaylistSegment {
  /** Seconds, as ffmpeg measured them. */
  duration: number;
  /** Relative URI of the package holding the segment, ending in a media extension. */
  uri: string;
  /** Byte range of the segment inside the resource at `uri`. */
  length: number;
  offset: number;
}

/** RFC 8216 §7: EXT-X-BYTERANGE needs protocol version 4 or higher. */
export const PLAYLIST_VERSION = 4;

/** RFC 8216 §4.3.3.1: every EXTINF rounded to the nearest integer ≤ EXT-X-TARGETDURATION. */
export function targetDurationFor(durations: readonly number[]): number {
  return Math.max(1, ...durations.map((d) => Math.round(d)));
}

function formatDuration(seconds: number): string {
  // RFC 8216 §4.3.2.1: decimal-floating-point durations since version 3; microseconds suffice.
  return seconds.toFixed(6);
}

/**
 * A VOD playlist with one EXT-X-BYTERANGE:<len>@<offset> per segment; an I-frame playlist (RFC 8216
 * §4.3.3.6: each range one keyframe, its EXTINF the time until the next) with `iFramesOnly`.
 */
export function renderPlaylist(segments: readonly PlaylistSegment[], options: { iFramesOnly?: boolean } = {}): string {
  if (segments.length === 0) throw new PlaylistInvalid('a playlist needs at least one segment');
  const lines = [
    '#EXTM3U',
    `#EXT-X-VERSION:${PLAYLIST_VERSION}`,
    `#EXT-X-TARGETDURATION:${targetDurationFor(segments.map((s) => s.duration))}`,
    '#EXT-X-MEDIA-SEQUENCE:0',
    '#EXT-X-PLAYLIST-TYPE:VOD',
    options.iFramesOnly ? '#EXT-X-I-FRAMES-ONLY' : '#EXT-X-INDEPENDENT-SEGMENTS',
  ];
  for (const segment of segments) {
    lines.push(`#EXTINF:${formatDuration(segment.duration)},`);
    lines.push(`#EXT-X-BYTERANGE:${segment.length}@${segment.offset}`);
    lines.push(segment.uri);
  }
  lines.push('#EXT-X-ENDLIST', '');
  return lines.join('\n');
}

export interface ParsedSegment extends PlaylistSegment {
  line: number;
}

export interface PlaylistCheck {
  version: number;
  targetDuration: number;
  segments: ParsedSegment[];
  problems: string[];
}

const BYTERANGE = /^#EXT-X-BYTERANGE:(\d+)(?:@(\d+))?$/;
const EXTINF = /^#EXTINF:(\d+(?:\.\d+)?),.*$/;
const MEDIA_URI = /^[^#\s][^\s]*\.(ts|aac|m4s|mp4)(\?[^\s]*)?$/;

/**
 * Checks a media playlist against the RFC 8216 rules this product relies on, returning every
 * problem found (empty when it is good). The prior art of this trick once shipped
 * `#EXT-X-BYTERANGE10659788:@66`; this catches such a line before anything is written.
 */
export function checkPlaylist(text: string): PlaylistCheck {
  const problems: string[] = [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  let version = 1;
  let targetDuration = Number.NaN;
  let sawVod = false;
  let sawEnd = false;
  const segments: ParsedSegment[] = [];
  let pendingDuration: number | undefined;
  let pendingRange: { length: number; offset?: number } | undefined;
  // RFC 8216 §4.3.1.1: the first line MUST be #EXTM3U.
  if (lines[0] !== '#EXTM3U') problems.push('line 1: the first line must be #EXTM3U');
  lines.forEach((raw, i) => {
    const n = i + 1;
    const line = raw.replace(/\r$/, '');
    if (n === 1 || line === '') return;
    if (sawEnd) problems.push(`line ${n}: nothing may follow #EXT-X-ENDLIST`);
    if (line.startsWith('#EXT-X-VERSION:')) {
      version = Number(line.slice('#EXT-X-VERSION:'.length));
      if (!Number.isInteger(version)) problems.push(`line ${n}: bad EXT-X-VERSION`);
    } else if (line.startsWith('#EXT-X-TARGETDURATION:')) {
      const value = line.slice('#EXT-X-TARGETDURATION:'.length);
      targetDuration = /^\d+$/.test(value) ? Number(value) : Number.NaN;
      // RFC 8216 §4.3.3.1: the value is a decimal-integer.
      if (Number.isNaN(targetDuration)) problems.push(`line ${n}: EXT-X-TARGETDURATION must be a whole number`);
    } else if (line === '#EXT-X-PLAYLIST-TYPE:VOD') {
      sawVod = true;
    } else if (line === '#EXT-X-ENDLIST') {
      sawEnd = true;
    } else if (line.startsWith('#EXTINF')) {
      const match = EXTINF.exec(line);
      if (!match) problems.push(`line ${n}: malformed EXTINF: ${line}`);
      pendingDuration = match ? Number(match[1]) : Number.NaN;
    } else if (line.startsWith('#EXT-X-BYTERANGE')) {
      const match = BYTERANGE.exec(line);
      if (!match) {
        problems.push(`line ${n}: malformed EXT-X-BYTERANGE: ${line}`);
        pendingRange = { length: Number.NaN, offset: Number.NaN };
      } else {
        pendingRange = { length: Number(match[1]), offset: match[2] === undefined ? undefined : Number(match[2]) };
      }
    } else if (line.startsWith('#')) {
      // RFC 8216 §4.1: other tags and comments; nothing here depends on them.
    } else {
      // A URI line: RFC 8216 §4.3.2.1, each segment's EXTINF comes before its URI.
      if (pendingDuration === undefined) problems.push(`line ${n}: URI without a preceding EXTINF`);
      if (!pendingRange) problems.push(`line ${n}: segment without EXT-X-BYTERANGE`);
      else if (pendingRange.offset === undefined) {
        problems.push(`line ${n}: EXT-X-BYTERANGE without @offset (this product always writes the offset)`);
      }
      if (!MEDIA_URI.test(line)) problems.push(`line ${n}: URI ${line} must be relative and end in a media extension`);
      segments.push({
        line: n,
        uri: line,
        duration: pendingDuration ?? Number.NaN,
        length: pendingRange?.length ?? Number.NaN,
        offset: pendingRange?.offset ?? Number.NaN,
      });
      pendingDuration = undefined;
      pendingRange = undefined;
    }
  });
  if (Number.isNaN(targetDuration)) problems.push('missing EXT-X-TARGETDURATION');
  // RFC 8216 §4.3.2.2: EXT-X-BYTERANGE requires a compatibility version of 4 or more.
  if (version < PLAYLIST_VERSION) problems.push(`EXT-X-VERSION is ${version}; byte ranges need 4 or more`);
  if (!sawVod) problems.push('missing #EXT-X-PLAYLIST-TYPE:VOD');
  // RFC 8216 §4.3.3.4: a playlist that will not change ends with EXT-X-ENDLIST.
  if (!sawEnd) problems.push('missing #EXT-X-ENDLIST');
  if (segments.length === 0) problems.push('no segments');
  if (pendingDuration !== undefined || pendingRange) problems.push('the last segment has no URI');
  for (const segment of segments) {
    // RFC 8216 §4.3.3.1: "The EXTINF duration of each Media Segment in the Playlist file, when
    // rounded to the nearest integer, MUST be less than or equal to the target duration".
    if (Math.round(segment.duration) > targetDuration) {
      problems.push(`line ${segment.line}: EXTINF ${segment.duration} rounds above the target duration ${targetDuration}`);
    }
    if (!(segment.length > 0)) problems.push(`line ${segment.line}: byte range length must be positive`);
  }
  return { version, targetDuration, segments, problems };
}

/** Throws PlaylistInvalid naming the first problems, or returns the parsed playlist. */
export function assertPlaylist(text: string): PlaylistCheck {
  const check = checkPlaylist(text);
  if (check.problems.length > 0) {
    throw new PlaylistInvalid(`generated playlist breaks RFC 8216: ${check.problems.slice(0, 3).join('; ')}`);
  }
  return check;
}

/** What a rung's I-frame playlist's name adds to the rung's (`720p-iframes.m3u8`). */
export const I_FRAMES_SUFFIX = '-iframes';

/** One variant of a multivariant playlist: a rung's media playlist and what it is. */
export interface Variant {
  /** Relative URI of its media playlist. */
  uri: string;
  /** Peak and average bit rates of its segments, in bits per second (RFC 8216 §4.3.4.2). */
  bandwidth: number;
  averageBandwidth: number;
  /** RFC 6381 codecs of its streams ("avc1.64001f,mp4a.40.2"). */
  codecs: string;
  /** Its picture's size; 0 for sound alone (no RESOLUTION: RFC 8216 §4.3.4.2 makes it OPTIONAL, for video only). */
  width: number;
  height: number;
  frameRate?: number | undefined;
}

/** Peak (the largest segment's bit rate) and average bit rate of a rung's segments, in bits per second. */
export function measuredBandwidth(segments: readonly Pick<PlaylistSegment, 'length' | 'duration'>[]): {
  bandwidth: number;
  averageBandwidth: number;
} {
  const seconds = segments.reduce((sum, s) => sum + s.duration, 0);
  const bytes = segments.reduce((sum, s) => sum + s.length, 0);
  const peak = Math.max(0, ...segments.filter((s) => s.duration > 0).map((s) => (s.length * 8) / s.duration));
  return { bandwidth: Math.ceil(peak), averageBandwidth: Math.ceil(seconds > 0 ? (bytes * 8) / seconds : 0) };
}

/** A subtitle rendition (RFC 8216 §4.3.4.1): its media playlist's URI, its language tag and its name in a menu. */
export interface SubtitleRendition {
  uri: string;
  language: string;
  name: string;
}

/** The one group of subtitle renditions every variant names. */
export const SUBTITLES_GROUP = 'subs';

/** An attribute's quoted-string value (RFC 8216 §4.2: no double quote, CR or LF inside). */
function quoted(value: string): string {
  return `"${value.replace(/["\r\n]/g, ' ')}"`;
}

/**
 * A multivariant playlist (RFC 8216 §4.3.4.2): one EXT-X-STREAM-INF per variant, in the order
 * given (a player that does not measure first starts with the first listed), each with the
 * attributes Apple's HLS authoring spec asks of every variant (9.1–9.4, 9.13–9.15); with subtitle
 * renditions, an EXT-X-MEDIA per track in one group that every variant names (§4.3.4.2.1).
 */
export function renderMultivariant(
  variants: readonly Variant[],
  iFrames: readonly Omit<Variant, 'frameRate'>[] = [],
  subtitles: readonly SubtitleRendition[] = [],
): string {
  if (variants.length === 0) throw new PlaylistInvalid('a multivariant playlist needs at least one variant');
  const lines = ['#EXTM3U', `#EXT-X-VERSION:${PLAYLIST_VERSION}`, '#EXT-X-INDEPENDENT-SEGMENTS'];
  // Not DEFAULT (a viewer turns them on), AUTOSELECT (a player may pick one for the viewer's language); none forced.
  for (const s of subtitles) {
    const attributes = [
      'TYPE=SUBTITLES',
      `GROUP-ID="${SUBTITLES_GROUP}"`,
      `NAME=${quoted(s.name)}`,
      ...(s.language === 'und' ? [] : [`LANGUAGE=${quoted(s.language)}`]),
      'DEFAULT=NO',
      'AUTOSELECT=YES',
      'FORCED=NO',
      `URI=${quoted(s.uri)}`,
    ];
    lines.push(`#EXT-X-MEDIA:${attributes.join(',')}`);
  }
  const common = (v: Omit<Variant, 'frameRate'>) => [
    `BANDWIDTH=${v.bandwidth}`,
    `AVERAGE-BANDWIDTH=${v.averageBandwidth}`,
    `CODECS="${v.codecs}"`,
    ...(v.width > 0 && v.height > 0 ? [`RESOLUTION=${v.width}x${v.height}`] : []),
  ];
  for (const v of variants) {
    const attributes = [
      ...common(v),
      ...(v.frameRate ? [`FRAME-RATE=${v.frameRate.toFixed(3)}`] : []),
      ...(subtitles.length > 0 ? [`SUBTITLES="${SUBTITLES_GROUP}"`] : []),
    ];
    lines.push(`#EXT-X-STREAM-INF:${attributes.join(',')}`, v.uri);
  }
  // RFC 8216 §4.3.4.3: each I-frame playlist, its URI an attribute (Apple 6.1, and 9.1–9.4 on them too).
  for (const v of iFrames) lines.push(`#EXT-X-I-FRAME-STREAM-INF:${[...common(v), `URI="${v.uri}"`].join(',')}`);
  lines.push('');
  return lines.join('\n');
}

const STREAM_INF = /^#EXT-X-STREAM-INF:(.*)$/;
const PLAYLIST_URI = /^[^#\s/][^\s]*\.m3u8$/;

/** An attribute list (RFC 8216 §4.2) as names and values, quotes removed; undefined when malformed. */
export function attributeList(text: string): Map<string, string> | undefined {
  const attributes = new Map<string, string>();
  const pattern = /([A-Z0-9-]+)=("[^"\r\n]*"|[^",\s]*)(,|$)/y;
  let at = 0;
  while (at < text.length) {
    pattern.lastIndex = at;
    const match = pattern.exec(text);
    if (!match) return undefined;
    attributes.set(match[1]!, match[2]!.replace(/^"|"$/g, ''));
    at = pattern.lastIndex;
  }
  return attributes;
}

/**
 * Checks a multivariant playlist: every EXT-X-STREAM-INF well formed, with BANDWIDTH (RFC 8216
 * §4.3.4.2 REQUIRED), the attributes Apple asks for, and a relative playlist URI on the next line.
 */
export function checkMultivariant(text: string): { variants: { attributes: Map<string, string>; uri: string }[]; problems: string[] } {
  const problems: string[] = [];
  const lines = text.split('\n').filter((l) => l !== '');
  if (lines[0] !== '#EXTM3U') problems.push('line 1: the first line must be #EXTM3U');
  const variants: { attributes: Map<string, string>; uri: string }[] = [];
  lines.forEach((line, i) => {
    const match = STREAM_INF.exec(line);
    if (!match) return;
    const attributes = attributeList(match[1]!);
    const uri = lines[i + 1] ?? '';
    if (!attributes) {
      problems.push(`line ${i + 1}: malformed attribute list: ${line}`);
      return;
    }
    // Apple's 9.1-9.4: RESOLUTION for a variant with a picture (a sound-only one has none to declare).
    const picture = /(^|,)(avc1|avc3|hvc1|hev1)\./.test(attributes.get('CODECS') ?? '');
    for (const name of ['BANDWIDTH', 'AVERAGE-BANDWIDTH', 'CODECS', ...(picture ? ['RESOLUTION'] : [])])
      if (!attributes.has(name)) problems.push(`line ${i + 1}: EXT-X-STREAM-INF without ${name}`);
    if (!/^[1-9][0-9]*$/.test(attributes.get('BANDWIDTH') ?? '')) problems.push(`line ${i + 1}: BANDWIDTH must be a whole number`);
    if (attributes.has('RESOLUTION') && !/^[0-9]+x[0-9]+$/.test(attributes.get('RESOLUTION')!))
      problems.push(`line ${i + 1}: RESOLUTION must be WxH`);
    if (!PLAYLIST_URI.test(uri)) problems.push(`line ${i + 2}: a variant's URI must follow its EXT-X-STREAM-INF: ${uri}`);
    variants.push({ attributes, uri });
  });
  lines.forEach((line, i) => {
    if (!line.startsWith('#EXT-X-I-FRAME-STREAM-INF:')) return;
    const attributes = attributeList(line.slice('#EXT-X-I-FRAME-STREAM-INF:'.length));
    if (!attributes) problems.push(`line ${i + 1}: malformed attribute list: ${line}`);
    else
      for (const name of ['BANDWIDTH', 'CODECS', 'RESOLUTION', 'URI'])
        if (!attributes.has(name)) problems.push(`line ${i + 1}: EXT-X-I-FRAME-STREAM-INF without ${name}`);
  });
  // RFC 8216 §4.3.4.2.1: a SUBTITLES value MUST match the GROUP-ID of an EXT-X-MEDIA of TYPE=SUBTITLES;
  // §4.3.4.1.1: within a group, no two renditions share a NAME.
  const groups = new Map<string, string[]>();
  lines.forEach((line, i) => {
    if (!line.startsWith('#EXT-X-MEDIA:')) return;
    const attributes = attributeList(line.slice('#EXT-X-MEDIA:'.length));
    if (!attributes) {
      problems.push(`line ${i + 1}: malformed attribute list: ${line}`);
      return;
    }
    for (const name of ['TYPE', 'GROUP-ID', 'NAME']) if (!attributes.has(name)) problems.push(`line ${i + 1}: EXT-X-MEDIA without ${name}`);
    // §4.3.4.1: URI is REQUIRED for SUBTITLES.
    if (attributes.get('TYPE') === 'SUBTITLES' && !attributes.has('URI')) problems.push(`line ${i + 1}: SUBTITLES without URI`);
    const key = `${attributes.get('TYPE')}/${attributes.get('GROUP-ID')}`;
    const names = groups.get(key) ?? [];
    if (names.includes(attributes.get('NAME') ?? '')) problems.push(`line ${i + 1}: NAME ${attributes.get('NAME')} twice in a group`);
    groups.set(key, [...names, attributes.get('NAME') ?? '']);
  });
  for (const { attributes } of variants) {
    const group = attributes.get('SUBTITLES');
    if (group !== undefined && !groups.has(`SUBTITLES/${group}`)) problems.push(`SUBTITLES="${group}" names no EXT-X-MEDIA group`);
  }
  if (variants.length === 0) problems.push('no variants');
  return { variants, problems };
}

export function assertMultivariant(text: string): void {
  const { problems } = checkMultivariant(text);
  if (problems.length > 0) throw new PlaylistInvalid(`generated multivariant playlist breaks RFC 8216: ${problems.slice(0, 3).join('; ')}`);
}
