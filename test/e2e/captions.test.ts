// Captions through the built CLI, judged by Debian's ffmpeg (which we did not write): a SubRip file
// beside the video, one given with --captions and the source's own mov_text track become subtitle
// renditions of the multivariant playlist; ffmpeg reads each subtitle playlist from `serve` (and
// from the delivery route) and finds every cue at its time; a cue's X-TIMESTAMP-MAP names the
// first picture's timestamp in the stored segments. Bad caption files are left out with a message a
// person can act on, and the video converts.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliIn, serveHome } from '../support/cli';
import { makeCaptionedVideo, makeMp3, makeVideo } from '../support/fixtures';
import { framesOf, PLAYER } from '../support/player';
import { DECODER, decoderScratch } from '../support/outside-checks';

const scratch = decoderScratch('captions', 'the caption checks');

interface ConvertOutput {
  status: string;
  videoId: string;
  playlist: string;
  captions?: { language: string; name: string; playlist: string }[];
  warnings: string[];
}

/** The cues Debian's ffmpeg reads from a subtitle playlist: [start, end, text], in seconds. */
function cuesOf(url: string): [number, number, string][] {
  // Its HLS demuxer opens .vtt segments only when told (allowed_extensions), and runs them together.
  const run = spawnSync(DECODER, ['-hide_banner', '-loglevel', 'error', '-allowed_extensions', 'ALL', '-i', url, '-f', 'webvtt', '-'], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect([run.status, run.stderr]).toEqual([0, '']);
  const seconds = (t: string) => t.split(':').reduce((sum, part) => sum * 60 + Number(part), 0);
  return run.stdout
    .split(/\n\n+/)
    .slice(1)
    .map((block) => block.split('\n'))
    .filter(([timing]) => timing?.includes('-->'))
    .map(([timing, ...text]) => {
      const [start, end] = timing!.split(' --> ');
      return [seconds(start!), seconds(end!), text.join('\n').trim()];
    });
}

let video: ConvertOutput;
let source: string;

beforeAll(() => {
  source = makeCaptionedVideo(join(scratch.dir, 'lecture.mp4'), {
    seconds: 14,
    size: '640x360',
    srt: '1\n00:00:09,000 --> 00:00:11,000\nGuten Tag\n',
    language: 'deu',
  });
  // Beside it: SubRip as Windows editors write it (CRLF, <font>), a cue across the 6-s cut, one after the end.
  writeFileSync(
    join(scratch.dir, 'lecture.en.srt'),
    '1\r\n00:00:02,000 --> 00:00:04,000\r\n<font color="red">Hello</font> & welcome\r\n\r\n2\r\n00:00:05,000 --> 00:00:07,500\r\nAcross the cut\r\n\r\n3\r\n00:00:30,000 --> 00:00:31,000\r\nafter the end\r\n',
  );
  // Beside it too: Latin-1, not UTF-8.
  writeFileSync(join(scratch.dir, 'lecture.fr.vtt'), Buffer.from('WEBVTT\n\n00:01.000 --> 00:02.000\n\xe9t\xe9\n', 'latin1'));
  // Given on the command line from another folder (keyed beside the video as lecture.es.vtt, as an upload would be).
  mkdirSync(join(scratch.dir, 'subs'));
  writeFileSync(join(scratch.dir, 'subs', 'notes.es.vtt'), 'WEBVTT\n\n00:00:12.000 --> 00:00:13.000 align:start\nAdiós\n');
  const run = cliIn(scratch.home, ['convert', source, '--captions', join(scratch.dir, 'subs', 'notes.es.vtt'), '--json'], {}, 300_000);
  expect([run.code, run.stderr.slice(-600)]).toEqual([0, expect.any(String)]);
  video = JSON.parse(run.stdout) as ConvertOutput;
}, 300_000);

it('makes a subtitle rendition of each caption file and of the source text track, and says what it left out', () => {
  expect(video.status).toBe('SUCCEEDED');
  expect(video.captions?.map((c) => [c.language, c.name])).toEqual([
    ['en', 'English'],
    ['es', 'Español'],
    ['de', 'Deutsch'],
  ]);
  expect(video.warnings).toEqual([
    'lecture.en.srt: 1 cue starting after the video ends at 0:00:14.000 (line 10): left out',
    'lecture.fr.vtt is left out: it is not UTF-8 text (line 4 is not): save it as UTF-8 and upload it again',
  ]);
  // The multivariant playlist names them, in one group every variant names.
  const multivariant = readFileSync(video.playlist, 'utf8');
  expect(multivariant.match(/^#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="[^"]+",LANGUAGE="(en|es|de)"/gm)).toHaveLength(3);
  for (const line of multivariant.split('\n').filter((l) => l.startsWith('#EXT-X-STREAM-INF:'))) expect(line).toContain('SUBTITLES="subs"');
  // The history says it in MakeCaptions' place.
  const history = JSON.parse(cliIn(scratch.home, ['history', video.videoId, '--json']).stdout) as {
    states: { state: string; notes?: string[] }[];
  };
  expect(history.states.find((s) => s.state === 'MakeCaptions')?.notes).toEqual([
    'captions: English (lecture.en.srt, 2 cues), Español (lecture.es.vtt, 1 cue), Deutsch (mov_text stream 2, 1 cue)',
  ]);
});

it('serves each subtitle playlist, whose cues ffmpeg reads at their times, on both routes', async () => {
  const server = await serveHome(scratch.home);
  try {
    const multivariant = await (await fetch(`${server.baseUrl}/v/${video.videoId}/index.m3u8`)).text();
    const uris = [...multivariant.matchAll(/TYPE=SUBTITLES,.*URI="([^"]+)"/g)].map((m) => m[1]!);
    expect(uris).toHaveLength(3);
    const expected = [
      [
        [2, 4, 'Hello & welcome'],
        [5, 7.5, 'Across the cut'],
      ],
      [[12, 13, 'Adiós']],
      [[9, 11, 'Guten Tag']],
    ];
    for (const [i, uri] of uris.entries()) {
      // ffmpeg runs the segments together: the cue across the cut comes twice, once from each segment.
      const cues = cuesOf(`${server.baseUrl}/v/${video.videoId}/${uri}`);
      expect([...new Map(cues.map((c) => [c.join('|'), c])).values()]).toEqual(expected[i]);
      expect(cuesOf(`${server.baseUrl}/proxy/v/${video.videoId}/${uri}`)).toEqual(cues);
    }
    // A segment is WebVTT with the map to the first picture's timestamp; the whole track is there too.
    const playlist = `${server.baseUrl}/v/${video.videoId}/${uris[0]}`;
    const segment = await fetch(playlist.replace(/\.m3u8$/, '/1.vtt'));
    expect([segment.status, segment.headers.get('content-type')]).toEqual([200, 'text/vtt; charset=utf-8']);
    const text = await segment.text();
    const mpegts = Number(/^X-TIMESTAMP-MAP=MPEGTS:(\d+),LOCAL:00:00:00\.000$/m.exec(text)?.[1]);
    expect(text).toContain('00:00:05.000 --> 00:00:07.500\nAcross the cut');
    expect(text).not.toContain('Hello');
    // The first picture's timestamp in the first segment, as Debian's ffprobe reads it from the served stream.
    const rung = /^[^#].*\.m3u8$/m.exec(multivariant)![0];
    const probe = spawnSync(
      DECODER.replace(/ffmpeg$/, 'ffprobe'),
      [
        '-v',
        'error',
        '-select_streams',
        'v:0',
        '-show_entries',
        'stream=start_pts',
        '-of',
        'csv=p=0',
        `${server.baseUrl}/v/${video.videoId}/${rung}`,
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    // (It prints the stream under its program too: the same value twice.)
    expect(mpegts).toBe(Number(probe.stdout.trim().split('\n')[0]));
    expect((await fetch(playlist.replace(/\.m3u8$/, '.vtt'))).status).toBe(200);
    // Nothing but the published shapes: a segment past the end (14 s: segments 0-2), another set.
    for (const path of [playlist.replace(/\.m3u8$/, '/3.vtt'), playlist.replace(/subtitles-[0-9a-f]{8}/, 'subtitles-00000000')])
      expect([path, (await fetch(path)).status]).toEqual([path, 404]);
  } finally {
    await server.stop();
  }
});

it('converts the same file again with other captions as another revision', () => {
  writeFileSync(join(scratch.dir, 'lecture.en.srt'), '1\n00:00:01,000 --> 00:00:02,000\nChanged\n');
  const again = JSON.parse(cliIn(scratch.home, ['convert', source, '--json'], {}, 300_000).stdout) as ConvertOutput;
  expect(again.status).toBe('SUCCEEDED');
  expect(again.playlist).not.toBe(video.playlist);
  expect(again.captions?.map((c) => c.language)).toEqual(['en', 'de']);
});

it('refuses --captions that is not a caption file, and two files of one language, before converting anything', () => {
  const notCaptions = cliIn(scratch.home, ['convert', source, '--captions', source]);
  expect([notCaptions.code, notCaptions.stderr.trim().split('\n').at(-1)]).toEqual([
    2,
    'lambda-hls: lecture.mp4 is not a caption file: give a .srt or .vtt',
  ]);
  writeFileSync(join(scratch.dir, 'subs', 'other.en.srt'), '1\n00:00:01,000 --> 00:00:02,000\nOther\n');
  const twice = cliIn(scratch.home, ['convert', source, '--captions', join(scratch.dir, 'subs', 'other.en.srt')]);
  expect([twice.code, twice.stderr.trim().split('\n').at(-1)]).toEqual([
    2,
    'lambda-hls: lecture.en.srt and other.en.srt are both English (en) captions: give one of them',
  ]);
});

it('gives one rendition (a source under 640x360) and a sound file their subtitles in a multivariant playlist of one variant, every frame still played', async () => {
  const small = makeVideo(join(scratch.dir, 'clip.mp4'), { seconds: 8, size: '320x180' });
  writeFileSync(join(scratch.dir, 'clip.en.srt'), '1\n00:00:01,000 --> 00:00:02,000\nSmall\n');
  const podcast = makeMp3(join(scratch.dir, 'episode.mp3'), 8);
  writeFileSync(join(scratch.dir, 'episode.en.vtt'), 'WEBVTT\n\n00:00:03.000 --> 00:00:04.000\nSpoken\n');
  const server = await serveHome(scratch.home);
  try {
    for (const [file, cue, codecs] of [
      [small, [1, 2, 'Small'], /^avc1\.[0-9a-f]{6},mp4a\.40\.2$/],
      [podcast, [3, 4, 'Spoken'], /^mp4a\.40\.2$/],
    ] as const) {
      const run = cliIn(scratch.home, ['convert', file, '--json'], {}, 300_000);
      const out = JSON.parse(run.stdout) as ConvertOutput & { renditions?: unknown };
      expect([out.status, out.warnings, out.captions?.map((c) => c.language), out.renditions]).toEqual([
        'SUCCEEDED',
        [],
        ['en'],
        undefined,
      ]);
      const multivariant = await (await fetch(`${server.baseUrl}/v/${out.videoId}/index.m3u8`)).text();
      const variants = multivariant.split('\n').filter((l) => l.startsWith('#EXT-X-STREAM-INF:'));
      expect(variants).toHaveLength(1);
      expect(/CODECS="([^"]+)"/.exec(variants[0]!)![1]).toMatch(codecs);
      // A picture's size for the video (as it is: copied), none for the sound.
      expect(/RESOLUTION=(\d+x\d+)/.exec(variants[0]!)?.[1]).toBe(file === small ? '320x180' : undefined);
      const uri = /TYPE=SUBTITLES,.*URI="([^"]+)"/.exec(multivariant)![1]!;
      for (const base of [`${server.baseUrl}/v/${out.videoId}`, `${server.baseUrl}/proxy/v/${out.videoId}`])
        expect([base, cuesOf(`${base}/${uri}`)]).toEqual([base, [cue]]);
      if (file === small) {
        // Every frame through the 302s and through the delivery route, as before the playlist had a variant.
        const frames = await framesOf(PLAYER, file);
        expect(await framesOf(PLAYER, `${server.baseUrl}/v/${out.videoId}/index.m3u8`)).toBe(frames);
        expect(await framesOf(PLAYER, `${server.baseUrl}/proxy/v/${out.videoId}/index.m3u8`)).toBe(frames);
      } else {
        // The sound decodes to its end from the multivariant playlist.
        const probe = spawnSync(
          DECODER,
          ['-v', 'error', '-i', `${server.baseUrl}/v/${out.videoId}/index.m3u8`, '-map', '0:a', '-f', 'null', '-'],
          {
            encoding: 'utf8',
            timeout: 60_000,
          },
        );
        expect([probe.status, probe.stderr]).toEqual([0, '']);
      }
    }
  } finally {
    await server.stop();
  }
});
