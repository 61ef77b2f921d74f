// WritePlaylist: a VOD playlist with one EXT-X-BYTERANGE per segment (each pointing into its
// package, `<package>.ts`), checked against RFC 8216 before it is written.
import { objectAt, parseJob, stringAt, type OffsetsDocument } from '../../src/core/model';
import { keys } from '../../src/core/naming';
import { assertPlaylist, writePlaylist as renderPlaylist } from '../../src/core/playlist';
import { readJson, type ObjectStore } from '../../src/ports';

export interface WritePlaylistPorts {
  objects: ObjectStore;
}

export interface PlaylistResult {
  playlistKey: string;
  segmentCount: number;
  durationSeconds: number;
  targetDuration: number;
}

/** Package n is addressed as `<n>.ts`, relative to the playlist, so any host name works. */
export function packageUri(packageIndex: number): string {
  return `${packageIndex}.ts`;
}

export async function writePlaylist(event: unknown, ports: WritePlaylistPorts): Promise<PlaylistResult> {
  const raw = objectAt(event, 'input');
  const job = parseJob(raw.job);
  const offsets = await readJson<OffsetsDocument>(ports.objects, 'work', stringAt(raw.offsetsKey, 'offsetsKey'));
  const segments = [...offsets.segments].sort((a, b) => a.index - b.index);
  const text = renderPlaylist(
    segments.map((s) => ({ duration: s.duration, uri: packageUri(s.package), length: s.length, offset: s.offset })),
  );
  const checked = assertPlaylist(text);
  const playlistKey = keys.playlist(job.videoId, job.revision);
  await ports.objects.put('output', playlistKey, text, 'application/vnd.apple.mpegurl');
  return {
    playlistKey,
    segmentCount: segments.length,
    durationSeconds: segments.reduce((sum, s) => sum + s.duration, 0),
    targetDuration: checked.targetDuration,
  };
}
