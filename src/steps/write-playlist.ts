// WritePlaylist: a VOD playlist with one EXT-X-BYTERANGE per segment (each pointing into its
// package, `<revision>/<package>.ts`), checked against RFC 8216 before it is written.
import { parseOffsets } from '../core/documents';
import { objectAt, parseJob, stringAt } from '../core/parse';
import type { Job } from '../core/model';
import { keys } from '../core/naming';
import { assertPlaylist, renderPlaylist } from '../core/playlist';
import type { Ports } from '../ports';
import { readDocument } from '../read-document';
import { refusePublished } from '../registry/routes';
import { entry } from './entry';

export type WritePlaylistPorts = Pick<Ports, 'objects'>;

export interface WritePlaylistInput {
  job: Job;
  offsetsKey: string;
}

export function parseWritePlaylistInput(event: unknown): WritePlaylistInput {
  const raw = objectAt(event, 'input');
  return { job: parseJob(raw.job), offsetsKey: stringAt(raw.offsetsKey, 'offsetsKey') };
}

export interface PlaylistResult {
  playlistKey: string;
  segmentCount: number;
  durationSeconds: number;
  targetDuration: number;
}

/**
 * Package n of a revision is addressed as `<revision>/<n>.ts`, relative to the playlist, so any
 * host name works — and a player holding this playlist after the video is converted again gets
 * this revision's bytes (for the grace period) or 410, never the new revision's at these offsets.
 */
export function packageUri(revision: string, packageIndex: number): string {
  return `${revision}/${packageIndex}.ts`;
}

export async function writePlaylist({ job, offsetsKey }: WritePlaylistInput, ports: WritePlaylistPorts): Promise<PlaylistResult> {
  // A published revision's playlist is what players hold: never written again (ValidateInput refused such a run already).
  await refusePublished(ports.objects, job.videoId, job.revision);
  const offsets = await readDocument(ports.objects, 'work', offsetsKey, parseOffsets);
  const segments = [...offsets.segments].sort((a, b) => a.index - b.index);
  const text = renderPlaylist(
    segments.map((s) => ({ duration: s.duration, uri: packageUri(job.revision, s.package), length: s.length, offset: s.offset })),
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

/** writePlaylist's entry in the step table. */
export const writePlaylistStep = entry({
  invokedBy: 'state machine',
  ports: ['objects'],
  variables: [],
  // The playlist goes under v/ only: never a route record.
  access: { objects: { work: ['get', 'list'], 'output/v': ['put'], 'output/routes': ['get'], output: ['list'] } },
  parse: parseWritePlaylistInput,
  run: (input, ports) => writePlaylist(input, ports),
});
