// Captions read and cut (src/core/captions.ts): SubRip and WebVTT files into cues, what is wrong
// with them said, and WebVTT segments as RFC 8216 §3.5 asks.
import {
  decodeCaptions,
  languageName,
  languageTag,
  parseCaptions,
  parseStoredTrack,
  renderStoredTrack,
  renderSubtitlePlaylist,
  sidecarsOf,
  uniqueNames,
  webVttSegment,
} from '../../src/core/captions';
import { CaptionInvalid } from '../../src/core/errors';
import { checkMultivariant, renderMultivariant } from '../../src/core/playlist';
import { captionTarget } from '../../src/playback/routes';

const SRT = `1\r\n00:00:01,000 --> 00:00:03,500\r\n<font color="#ffff00">Hello</font> & {\\an8}<i>welcome</i>\r\n\r\n2\r\n00:00:05,000 --> 00:00:07,000\r\nTwo\r\nlines\r\n`;

describe('sidecar files', () => {
  it('finds <name>.<language>.srt|vtt and <name>.srt beside a source, the extension in any case, and nothing else', () => {
    const keys = [
      'f/lecture.mp4',
      'f/lecture.en.srt',
      'f/lecture.PT-br.VTT',
      'f/lecture.srt',
      'f/lecture.en.sdh.srt',
      'f/lecture.notalanguage123.srt',
      'f/lecture2.en.srt',
      'f/lecture.en.txt',
    ];
    expect(sidecarsOf('f/lecture.mp4', keys)).toEqual([
      { file: 'f/lecture.PT-br.VTT', format: 'vtt', language: 'pt-BR' },
      { file: 'f/lecture.en.srt', format: 'srt', language: 'en' },
      { file: 'f/lecture.srt', format: 'srt', language: 'und' },
    ]);
  });

  it('canonicalises language tags (ISO 639-2 to 639-1 where there is one) and names them in their own language', () => {
    expect(['eng', 'deu', 'EN-us', 'zh-Hant', 'xx1', 'e'].map(languageTag)).toEqual(['en', 'de', 'en-US', 'zh-Hant', undefined, undefined]);
    expect(['en', 'de', 'pt-BR', 'und'].map(languageName)).toEqual(['English', 'Deutsch', 'Português (Brasil)', 'Captions']);
    // RFC 8216 §4.3.4.1.1: no two renditions of a group share a NAME.
    expect(uniqueNames(['English', 'English', 'Deutsch'])).toEqual(['English', 'English 2', 'Deutsch']);
  });
});

describe('reading a caption file', () => {
  it("reads SubRip's cues as WebVTT cue text: <b> <i> <u> kept, <font> and override codes dropped, & escaped", () => {
    expect(parseCaptions(SRT, 'srt', 60)).toEqual({
      cues: [
        { start: 1, end: 3.5, text: 'Hello &amp; <i>welcome</i>' },
        { start: 5, end: 7, text: 'Two\nlines' },
      ],
      warnings: [],
    });
  });

  it("reads WebVTT's cues with their settings, hours optional, skipping NOTE and STYLE blocks", () => {
    const vtt =
      'WEBVTT - a title\n\nNOTE a note\n\nSTYLE\n::cue { color: red }\n\nintro\n00:01.000 --> 00:02.000 line:0 align:start\nTop\n\n01:00:00.000 --> 01:00:01.000\nLate\n';
    expect(parseCaptions(vtt, 'vtt', 7200).cues).toEqual([
      { start: 1, end: 2, text: 'Top', settings: 'line:0 align:start' },
      { start: 3600, end: 3601, text: 'Late' },
    ]);
  });

  it('leaves out cues it cannot show and names their lines; keeps overlapping cues and says so', () => {
    const srt = [
      '1\n00:00:01,000 --> 00:00:04,000\nA',
      '2\n00:00:03,000 --> 00:00:05,000\nB overlaps A',
      '3\n00:00:0x,000 --> 00:00:06,000\nbad timing',
      '4\n00:00:08,000 --> 00:00:07,000\nbackwards',
      '5\n00:00:50,000 --> 00:00:55,000\nafter the end',
      '6\n00:00:09,000 --> 00:00:40,000\nclamped to the end',
    ].join('\n\n');
    const { cues, warnings } = parseCaptions(srt, 'srt', 30);
    expect(cues.map((c) => [c.text, c.start, c.end])).toEqual([
      ['A', 1, 4],
      ['B overlaps A', 3, 5],
      ['clamped to the end', 9, 30],
    ]);
    expect(warnings).toEqual([
      '1 cue with a timing that is not hh:mm:ss,mmm --> hh:mm:ss,mmm (line 10): left out',
      '1 cue ending before they start (line 14): left out',
      '1 cue starting after the video ends at 0:00:30.000 (line 18): left out',
      '1 cue overlaps the one before (first at 0:00:03.000, line 6): players show both at once',
    ]);
  });

  it('puts cues out of order in order, and says so', () => {
    const { cues, warnings } = parseCaptions(
      '1\n00:00:05,000 --> 00:00:06,000\nsecond\n\n2\n00:00:01,000 --> 00:00:02,000\nfirst\n',
      'srt',
      10,
    );
    expect(cues.map((c) => c.text)).toEqual(['first', 'second']);
    expect(warnings).toEqual(['its cues are not in order of time: put in order']);
  });

  it('refuses, by name and with a reason a person can act on, a file that is not UTF-8, not WebVTT, or holds no cue to show', () => {
    expect(() => decodeCaptions(Buffer.from('1\n00:00:01,000 --> 00:00:02,000\n\xe9t\xe9\n', 'latin1'))).toThrow(
      new CaptionInvalid('it is not UTF-8 text (line 3 is not): save it as UTF-8 and upload it again'),
    );
    expect(decodeCaptions(Buffer.from('\uFEFFWEBVTT\n', 'utf8'))).toBe('WEBVTT\n');
    expect(() => parseCaptions('1\n00:00:01,000 --> 00:00:02,000\nA\n', 'vtt', 10)).toThrow(
      new CaptionInvalid('it is not a WebVTT file: its first line is not WEBVTT'),
    );
    expect(() => parseCaptions('1\n00:00:50,000 --> 00:00:52,000\nA\n', 'srt', 10)).toThrow(
      new CaptionInvalid('it holds no cue to show before the video ends at 0:00:10.000'),
    );
    expect(() => parseCaptions('hello\nworld\n', 'srt', 10)).toThrow(new CaptionInvalid('it holds no cue to show'));
  });
});

describe('subtitle renditions (RFC 8216 §3.5)', () => {
  const cues = parseCaptions(SRT, 'srt', 60).cues;
  const track = renderStoredTrack(cues, 216000);
  const stored = parseStoredTrack(track)!;

  it('stores a track whole with its X-TIMESTAMP-MAP, and reads it back as it was', () => {
    expect(track.split('\n').slice(0, 2)).toEqual(['WEBVTT', 'X-TIMESTAMP-MAP=MPEGTS:216000,LOCAL:00:00:00.000']);
    expect(stored).toEqual({ cues, mpegts: 216000 });
  });

  it('cuts segment n with every cue shown during it at its full times, a cue across the cut in both, and a blank line at the end', () => {
    // "Each WebVTT Segment MUST contain all subtitle cues that are intended to be displayed during the
    // period indicated by the segment EXTINF duration. The start time offset and end time offset of
    // each cue MUST indicate the total display time for that cue, even if part of the cue time range
    // is outside the Segment period." A segment MAY contain no cues.
    const durations = [3, 3, 3];
    expect(webVttSegment(stored, durations, 0)).toBe(
      'WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:216000,LOCAL:00:00:00.000\n\n00:00:01.000 --> 00:00:03.500\nHello &amp; <i>welcome</i>\n\n',
    );
    expect(webVttSegment(stored, durations, 1)).toContain('00:00:01.000 --> 00:00:03.500');
    expect(webVttSegment(stored, durations, 1)).toContain('00:00:05.000 --> 00:00:07.000\nTwo\nlines');
    // The last segment runs to the end: a cue after its nominal end (up to the video's) is in it.
    expect(webVttSegment(stored, [2, 2], 1)).toContain('Two\nlines');
    expect(webVttSegment(stored, durations, 3)).toBeUndefined();
    expect(webVttSegment({ cues: [], mpegts: 0 }, durations, 0)).toBe('WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000\n\n');
  });

  it('writes a VOD subtitle playlist cut as the video is, each segment beside it', () => {
    expect(renderSubtitlePlaylist([6, 6, 2.5], '0')).toBe(
      '#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n' +
        '#EXTINF:6.000000,\n0/0.vtt\n#EXTINF:6.000000,\n0/1.vtt\n#EXTINF:2.500000,\n0/2.vtt\n#EXT-X-ENDLIST\n',
    );
  });

  it('names each track in the multivariant playlist, in one group every variant names (§4.3.4.2.1)', () => {
    const variant = {
      uri: 'r/720p.m3u8',
      bandwidth: 2e6,
      averageBandwidth: 1e6,
      codecs: 'avc1.64001f,mp4a.40.2',
      width: 1280,
      height: 720,
    };
    const text = renderMultivariant(
      [variant],
      [],
      [
        { uri: 'r/subtitles-0a1b2c3d/0.m3u8', language: 'en', name: 'English' },
        { uri: 'r/subtitles-0a1b2c3d/1.m3u8', language: 'und', name: 'Say "hi"' },
      ],
    );
    expect(text).toContain(
      '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="English",LANGUAGE="en",DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,URI="r/subtitles-0a1b2c3d/0.m3u8"',
    );
    // No LANGUAGE for und; no double quote inside a quoted-string (§4.2).
    expect(text).toContain('NAME="Say  hi ",DEFAULT=NO');
    expect(text).toContain('RESOLUTION=1280x720,SUBTITLES="subs"\nr/720p.m3u8');
    expect(checkMultivariant(text).problems).toEqual([]);
    expect(
      checkMultivariant(text.replace('GROUP-ID="subs",NAME="English"', 'GROUP-ID="other",NAME="English"').replace(/.*Say.*\n/, ''))
        .problems,
    ).toEqual(['SUBTITLES="subs" names no EXT-X-MEDIA group']);
    expect(checkMultivariant(text.replace('Say  hi ', 'English')).problems).toEqual([
      expect.stringContaining('NAME English twice in a group'),
    ]);
  });

  it('declares a sound-only variant without RESOLUTION (RFC 8216 §4.3.4.2: OPTIONAL, for video), and still wants it of a picture', () => {
    const sound = { uri: 'r/source.m3u8', bandwidth: 130_000, averageBandwidth: 128_000, codecs: 'mp4a.40.2', width: 0, height: 0 };
    const text = renderMultivariant([sound], [], [{ uri: 'r/subtitles-0a1b2c3d/0.m3u8', language: 'en', name: 'English' }]);
    expect(text).toContain(
      '#EXT-X-STREAM-INF:BANDWIDTH=130000,AVERAGE-BANDWIDTH=128000,CODECS="mp4a.40.2",SUBTITLES="subs"\nr/source.m3u8',
    );
    expect(checkMultivariant(text).problems).toEqual([]);
    expect(checkMultivariant(text.replace('mp4a.40.2', 'avc1.64001f,mp4a.40.2')).problems).toEqual([
      'line 5: EXT-X-STREAM-INF without RESOLUTION',
    ]);
  });

  it('answers only the exact caption paths it publishes', () => {
    const base = '/v/talk-1a2b3c/0a1b2c3d/subtitles-deadbeef';
    expect(captionTarget(`${base}/0.m3u8`)).toEqual({
      videoId: 'talk-1a2b3c',
      revision: '0a1b2c3d',
      set: 'deadbeef',
      track: 0,
      file: 'playlist',
    });
    expect(captionTarget(`${base}/12.vtt`)).toMatchObject({ track: 12, file: 'track' });
    expect(captionTarget(`${base}/1/204.vtt`)).toMatchObject({ track: 1, file: 'segment', segment: 204 });
    for (const bad of [
      `${base}/01.m3u8`,
      `${base}/0/01.vtt`,
      `${base}/../0.m3u8`,
      `${base}/0.vtt?x`,
      `${base}%2F0.m3u8`,
      '/v/talk-1a2b3c/0a1b2c3d/subtitles-DEADBEEF/0.m3u8',
    ])
      expect([bad, captionTarget(bad)]).toEqual([bad, undefined]);
  });
});
