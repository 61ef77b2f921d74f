// Captions: sidecar files (`lecture.en.srt`, `lecture.en.vtt` beside `lecture.mp4`) and the
// source's own text tracks, read into cues and written as WebVTT subtitle renditions (RFC 8216
// §3.5): one media playlist per track, cut where the video's segments are cut, each segment a
// whole WebVTT file holding every cue shown during it (a cue crossing a cut is in both, with its
// full times), with the X-TIMESTAMP-MAP that puts WebVTT time 0 on the video's first timestamp.
// Pure: text in, text out.
import { CaptionInvalid } from './errors';
import { targetDurationFor } from './playlist';

/** A caption's file format, by its extension. */
export type CaptionFormat = 'srt' | 'vtt';

export const CAPTION_EXTENSIONS: Record<string, CaptionFormat> = { '.srt': 'srt', '.vtt': 'vtt' };

/** Where a track comes from: a file beside the video in the input bucket, or a text stream of the source. */
export type CaptionSource =
  | { file: string; format: CaptionFormat; language: string; stream?: never }
  | { stream: number; codec: string; language: string; title?: string; file?: never };

/** One cue: seconds on the video's timeline, its text (WebVTT cue text), its settings as written. */
export interface Cue {
  start: number;
  end: number;
  text: string;
  settings?: string;
}

/** A track as read: its cues in order, and what was wrong with the file (in words a person reads). */
export interface ParsedCaptions {
  cues: Cue[];
  warnings: string[];
}

/** `und`: BCP 47's "undetermined", for a file or stream that names no language. */
export const UNDETERMINED = 'und';

/**
 * A language tag as HLS's LANGUAGE wants it (RFC 5646, canonical: `eng` → `en`, `EN-us` → `en-US`),
 * or undefined when it is not one.
 */
export function languageTag(tag: string): string | undefined {
  if (!/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$/.test(tag)) return undefined;
  try {
    return Intl.getCanonicalLocales(tag)[0];
  } catch {
    return undefined;
  }
}

/** A track's name as a menu shows it: "English", "Português (Brasil)" (in its own language), "Captions" for `und`. */
export function languageName(language: string): string {
  if (language === UNDETERMINED) return 'Captions';
  try {
    const name = new Intl.DisplayNames([language], { type: 'language' }).of(language);
    return name && name !== language ? name.charAt(0).toLocaleUpperCase(language) + name.slice(1) : language;
  } catch {
    return language;
  }
}

/** What every sidecar key of a source starts with: its name without its extension, and a dot (`f/lecture.`). */
export function sidecarPrefix(sourceKey: string): string {
  return `${sourceKey.replace(/\.[^./]*$/, '')}.`;
}

/** The key a caption of `language` gets beside its source, as an upload beside it would have (`f/lecture.en.srt`). */
export function sidecarKey(sourceKey: string, language: string, format: CaptionFormat): string {
  return `${sidecarPrefix(sourceKey)}${language}.${format}`;
}

/**
 * The sidecar files of a source among keys of its folder: `<base>.srt`, `<base>.vtt` (language
 * `und`) and `<base>.<language>.srt|vtt`, the extension in any case (`lecture.EN.SRT`). Others
 * (`lecture.en.sdh.txt`, another video's) are not its captions.
 */
export function sidecarsOf(sourceKey: string, keys: readonly string[]): Extract<CaptionSource, { file: string }>[] {
  const prefix = sidecarPrefix(sourceKey);
  const found: Extract<CaptionSource, { file: string }>[] = [];
  for (const key of keys) {
    if (!key.startsWith(prefix)) continue;
    const rest = key.slice(prefix.length);
    const match = /^(?:([^./]+)\.)?(srt|vtt)$/i.exec(rest);
    if (!match) continue;
    const language = match[1] === undefined ? UNDETERMINED : languageTag(match[1]);
    if (!language) continue;
    found.push({ file: key, format: match[2]!.toLowerCase() as CaptionFormat, language });
  }
  return found.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
}

/** Bytes as UTF-8 text (a byte order mark dropped); CaptionInvalid naming the line that is not. */
export function decodeCaptions(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    const text = new TextDecoder('utf-8').decode(bytes);
    const line = text.slice(0, text.indexOf('\uFFFD')).split('\n').length;
    throw new CaptionInvalid(`it is not UTF-8 text (line ${line} is not): save it as UTF-8 and upload it again`);
  }
}

const TIME = /^(?:(\d{1,3}):)?([0-5]\d):([0-5]\d)[.,](\d{3})$/;
const TIMING = /^(\S+)[ \t]+-->[ \t]+(\S+)(?:[ \t]+(.*))?$/;

function seconds(text: string): number | undefined {
  const match = TIME.exec(text);
  if (!match) return undefined;
  return Number(match[1] ?? 0) * 3600 + Number(match[2]) * 60 + Number(match[3]) + Number(match[4]) / 1000;
}

/** `h:mm:ss.mmm`, as messages name a moment. */
export function clock(at: number): string {
  const ms = Math.round(at * 1000);
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor(ms / 60_000) % 60;
  const s = Math.floor(ms / 1000) % 60;
  return `${h}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}.${String(ms % 1000).padStart(3, '0')}`;
}

/** WebVTT's timestamp (hours always): `00:01:02.500`. */
function vttTime(at: number): string {
  const text = clock(at);
  return text.length < 12 ? `0${text}` : text;
}

/**
 * SubRip's text as WebVTT cue text: its `<b> <i> <u>` kept, `<font>` and `{\an8}`-style override
 * codes dropped, a stray `<` or `&` escaped, and no `-->` (which would end a WebVTT cue's text).
 */
function srtText(lines: readonly string[]): string {
  return lines
    .join('\n')
    .replace(/\{\\[^}]*\}/g, '')
    .replace(/<\/?font[^>]*>/gi, '')
    .replace(/&(?![a-zA-Z]+;|#\d+;)/g, '&amp;')
    .replace(/<(?!\/?[biu]>)/gi, '&lt;')
    .replace(/-->/g, '--&gt;');
}

/**
 * A SubRip or WebVTT file's cues, on a video of `duration` seconds. What cannot be shown is left
 * out and said (a timing that is not one, a cue that ends before it starts or starts after the
 * video ends); cues that overlap are kept (players stack them) and said. CaptionInvalid when the
 * file is not one or holds no cue to show (unless `empty` takes that).
 */
export function parseCaptions(
  text: string,
  format: CaptionFormat,
  duration: number,
  { empty = false }: { empty?: boolean } = {},
): ParsedCaptions {
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/);
  if (format === 'vtt' && !/^WEBVTT(?:[ \t].*)?$/.test(lines[0] ?? ''))
    throw new CaptionInvalid('it is not a WebVTT file: its first line is not WEBVTT');
  const skipped = { timing: [] as number[], backwards: [] as number[], late: [] as number[] };
  const cues: (Cue & { line: number })[] = [];
  // Blocks are separated by blank lines; a cue is [id] timing text…, anything else (the header, NOTE, STYLE, REGION, a SubRip number alone) is not shown.
  let at = format === 'vtt' ? 1 : 0;
  while (at < lines.length) {
    while (at < lines.length && lines[at]!.trim() === '') at++;
    const block: { text: string; line: number }[] = [];
    while (at < lines.length && lines[at]!.trim() !== '') block.push({ text: lines[at]!, line: ++at });
    if (block.length === 0) break;
    const timingAt = block.findIndex((l) => l.text.includes('-->'));
    if (timingAt === -1 || timingAt > 1) continue;
    const timing = block[timingAt]!;
    const match = TIMING.exec(timing.text.trim());
    const start = match ? seconds(match[1]!) : undefined;
    const end = match ? seconds(match[2]!) : undefined;
    if (start === undefined || end === undefined) {
      skipped.timing.push(timing.line);
      continue;
    }
    if (end <= start) {
      skipped.backwards.push(timing.line);
      continue;
    }
    if (start >= duration) {
      skipped.late.push(timing.line);
      continue;
    }
    const body = block.slice(timingAt + 1).map((l) => l.text);
    const cueText = format === 'srt' ? srtText(body) : body.join('\n').replace(/-->/g, '--&gt;');
    if (cueText.trim() === '') continue;
    // SubRip has no settings; WebVTT's (line, position, align…) are kept as written.
    const settings = format === 'vtt' ? match?.[3]?.trim() : undefined;
    cues.push({ start, end: Math.min(end, duration), text: cueText, ...(settings && { settings }), line: timing.line });
  }
  if (cues.length === 0 && !empty) {
    const why = skipped.timing.length > 0 ? `: line ${skipped.timing[0]}'s timing is not hh:mm:ss,mmm --> hh:mm:ss,mmm` : '';
    throw new CaptionInvalid(`it holds no cue to show${skipped.late.length > 0 ? ` before the video ends at ${clock(duration)}` : why}`);
  }
  const warnings: string[] = [];
  const some = (lines: number[], what: string) => {
    if (lines.length > 0)
      warnings.push(
        `${lines.length === 1 ? '1 cue' : `${lines.length} cues`} ${what} (line ${lines.slice(0, 3).join(', ')}${lines.length > 3 ? '…' : ''}): left out`,
      );
  };
  some(skipped.timing, 'with a timing that is not hh:mm:ss,mmm --> hh:mm:ss,mmm');
  some(skipped.backwards, 'ending before they start');
  some(skipped.late, `starting after the video ends at ${clock(duration)}`);
  // WebVTT wants cues in order of their start (and so do players' cue lists).
  const ordered = [...cues].sort((a, b) => a.start - b.start || a.end - b.end);
  if (ordered.some((c, i) => c !== cues[i])) warnings.push('its cues are not in order of time: put in order');
  const overlapping = ordered.filter((c, i) => i > 0 && c.start < ordered[i - 1]!.end);
  if (overlapping.length > 0)
    warnings.push(
      `${overlapping.length === 1 ? '1 cue overlaps' : `${overlapping.length} cues overlap`} the one before (first at ${clock(overlapping[0]!.start)}, line ${overlapping[0]!.line}): players show both at once`,
    );
  return { cues: ordered.map(({ line: _, ...cue }) => cue), warnings };
}

/** X-TIMESTAMP-MAP's MPEGTS (90 kHz): the video's first timestamp, on the 33-bit clock. */
export function mpegTimestamp(firstPtsSeconds: number): number {
  return Math.round(firstPtsSeconds * 90_000) % 2 ** 33;
}

const TIMESTAMP_MAP = /^X-TIMESTAMP-MAP=MPEGTS:(\d+),LOCAL:00:00:00\.000$/m;

function cueLines(cues: readonly Cue[]): string[] {
  return cues.flatMap((c) => [`${vttTime(c.start)} --> ${vttTime(c.end)}${c.settings ? ` ${c.settings}` : ''}`, c.text, '']);
}

/**
 * A track as it is stored: one WebVTT file of all its cues on the video's timeline, its header
 * carrying the X-TIMESTAMP-MAP its segments need (a `<track>` or a download reads it as it is:
 * WebVTT parsers skip header lines). Its segments are cut from it as players ask (webVttSegment).
 */
export function renderStoredTrack(cues: readonly Cue[], mpegts: number): string {
  return ['WEBVTT', `X-TIMESTAMP-MAP=MPEGTS:${mpegts},LOCAL:00:00:00.000`, '', ...cueLines(cues)].join('\n');
}

/** A stored track read back: its cues and its MPEGTS; undefined when it is not one (no timestamp map). */
export function parseStoredTrack(track: string): { cues: Cue[]; mpegts: number } | undefined {
  const map = TIMESTAMP_MAP.exec(track);
  if (!map) return undefined;
  return { cues: parseCaptions(track, 'vtt', Number.POSITIVE_INFINITY, { empty: true }).cues, mpegts: Number(map[1]) };
}

/**
 * Segment n of a stored track (RFC 8216 §3.5): a whole WebVTT file with every cue shown during the
 * segment — a cue crossing a cut is in both segments, with its full times — and the
 * X-TIMESTAMP-MAP that places WebVTT time 0 on the video's first MPEG-TS timestamp. `durations`
 * are the subtitle playlist's EXTINFs (the video's cuts); undefined when there is no segment n.
 */
export function webVttSegment(
  track: { cues: readonly Cue[]; mpegts: number },
  durations: readonly number[],
  n: number,
): string | undefined {
  const range = segmentRanges(durations)[n];
  if (!range) return undefined;
  const shown = track.cues.filter((c) => c.start < range.to && c.end > range.from);
  // Ending in a blank line: a reader that runs segments together (ffmpeg's HLS demuxer) takes the next header as no cue's text.
  return ['WEBVTT', `X-TIMESTAMP-MAP=MPEGTS:${track.mpegts},LOCAL:00:00:00.000`, '', ...cueLines(shown), ''].join('\n');
}

/** A media playlist's EXTINF durations, in order. */
export function playlistDurations(playlist: string): number[] {
  return [...playlist.matchAll(/^#EXTINF:(\d+(?:\.\d+)?),/gm)].map((m) => Number(m[1]));
}

/** A subtitle rendition's media playlist: the video's cuts, segment n at `<prefix>/<n>.vtt` (RFC 8216 §3.5, §4.3.3). */
export function renderSubtitlePlaylist(durations: readonly number[], prefix: string): string {
  const lines = [
    '#EXTM3U',
    '#EXT-X-VERSION:3',
    `#EXT-X-TARGETDURATION:${targetDurationFor(durations)}`,
    '#EXT-X-MEDIA-SEQUENCE:0',
    '#EXT-X-PLAYLIST-TYPE:VOD',
  ];
  for (const [n, d] of durations.entries()) lines.push(`#EXTINF:${d.toFixed(6)},`, `${prefix}/${n}.vtt`);
  lines.push('#EXT-X-ENDLIST', '');
  return lines.join('\n');
}

/** The segments' time ranges [from, to) from their durations, the last one open to the end. */
export function segmentRanges(durations: readonly number[]): { from: number; to: number }[] {
  let from = 0;
  return durations.map((d, n) => {
    const range = { from, to: n === durations.length - 1 ? Number.POSITIVE_INFINITY : from + d };
    from += d;
    return range;
  });
}

/** A track as a route record, a multivariant playlist and `convert --json` name it. */
export interface CaptionTrack {
  /** Its number in the set: `subtitles-<set>/<id>.m3u8`. */
  id: number;
  language: string;
  /** Unique in the set (RFC 8216 §4.3.4.1.1: NAME is unique within a group). */
  name: string;
  /** Where it came from: the sidecar's key, or `stream <n>` of the source. */
  from: string;
  cues: number;
  playlistKey: string;
  /** The whole track as one WebVTT file. */
  trackKey: string;
}

/** A route record's captions: the set its multivariant playlist names, and each track. */
export interface RouteCaptions {
  set: string;
  tracks: Pick<CaptionTrack, 'id' | 'language' | 'name' | 'playlistKey' | 'trackKey'>[];
}

/** What MakeCaptions made: a set of tracks under `subtitles-<set>/`, and what it could not use. */
export interface CaptionsResult {
  set?: string;
  tracks?: CaptionTrack[];
  /** One rendition's CODECS, read from its first segment: its variant in the multivariant playlist the subtitles need. */
  codecs?: string;
  warnings?: string[];
}

/** Names unique in a set: a second "English" is "English 2". */
export function uniqueNames(names: readonly string[]): string[] {
  const seen = new Map<string, number>();
  return names.map((name) => {
    const n = (seen.get(name) ?? 0) + 1;
    seen.set(name, n);
    return n === 1 ? name : `${name} ${n}`;
  });
}

/** Where a caption source came from, as messages name it: the sidecar's file name, or the source's stream. */
export function captionLabel(source: CaptionSource): string {
  return source.file !== undefined ? (source.file.split('/').pop() ?? source.file) : `${source.codec} stream ${source.stream}`;
}

/** What ValidateInput found, as the history says it: "captions to read: lecture.en.srt, stream 2 (mov_text)". */
export function describeCaptionSources(sources: readonly CaptionSource[]): string {
  return `captions to read: ${sources.map(captionLabel).join(', ')}`;
}

/** What MakeCaptions made, as the history says it: "captions: English (lecture.en.srt, 42 cues), Deutsch (stream 2, 40 cues)". */
export function describeCaptions(result: CaptionsResult): string | undefined {
  if (!result.tracks?.length) return undefined;
  return `captions: ${result.tracks.map((t) => `${t.name} (${t.from}, ${t.cues} ${t.cues === 1 ? 'cue' : 'cues'})`).join(', ')}`;
}
