// MakePreviews: the revision's pictures (src/core/previews.ts) — its poster and its storyboard for
// scrubbing — read from the source and written beside its playlists in the output bucket
// (`v/<id>/<revision>/`), where CleanUp, `delete` and a replaced revision's retirement remove them
// with the playlists. They are not put in code packages: a page's <img> and a link preview's
// crawler need `image/jpeg` answered on the page's own origin, and a package URL answers
// `application/zip` on AWS's (which browsers' opaque-response blocking refuses to show).
//
// Pictures ffmpeg cannot make do not cost the video: the result says why there are none
// (`skipped`) and the run goes on. Faults of the stores are thrown, for the state machine to retry.
import { PreviewFailed } from '../core/errors';
import { hdrTransferOf } from '../core/encoding';
import type { Job } from '../core/model';
import { FORMAT_OF, keys, STORYBOARD_IMAGE_FILE, supportedExtension } from '../core/naming';
import { objectAt, parseJob } from '../core/parse';
import {
  DARK_LUMA,
  displaySize,
  POSTER_MAX_SIDE,
  posterCandidates,
  type PreviewsResult,
  renderStoryboardVtt,
  storyboardPlan,
  storyboardTiles,
} from '../core/previews';
import { withInput } from '../pipeline/segments';
import type { PosterFrame, Ports } from '../ports';
import { refusePublished } from '../registry/routes';
import { entry } from './entry';
import { join } from 'node:path';

export type MakePreviewsPorts = Pick<Ports, 'objects' | 'media'>;

export interface MakePreviewsSettings {
  /** A folder for scratch files; unset, the system's temporary folder (/tmp in Lambda). */
  scratchDir?: string | undefined;
}

export function parseMakePreviewsInput(event: unknown): { job: Job } {
  return { job: parseJob(objectAt(event, 'input').job) };
}

/** The poster's frames looked at: two seconds' worth, at most 50 (the thumbnail filter holds them all: 150 MB at 1080p). */
function posterFrames(frameRate: number | undefined): number {
  return Math.min(50, Math.max(1, Math.round(2 * (frameRate ?? 25))));
}

export async function makePreviews(
  { job }: { job: Job },
  ports: MakePreviewsPorts,
  settings: MakePreviewsSettings,
): Promise<PreviewsResult> {
  // A published revision's files are what players hold: never written again.
  await refusePublished(ports.objects, job.videoId, job.revision);
  const video = job.media.video;
  if (!video) return {}; // a sound file: nothing to show
  const { videoId, revision } = job;
  const duration = job.media.durationSeconds;
  const format = FORMAT_OF[supportedExtension(job.source.key)];
  const toneMap = hdrTransferOf(video);
  try {
    return await withInput(job, ports, settings.scratchDir, async (input, dir) => {
      // The first candidate that is not nearly black; if every one is, the brightest.
      const size = displaySize(video, POSTER_MAX_SIDE);
      let chosen: { frame: PosterFrame; output: string } | undefined;
      for (const [i, at] of posterCandidates(duration).entries()) {
        const output = join(dir, `poster-${i}.jpg`);
        const frame = await ports.media.poster({
          input,
          format,
          at,
          startSeconds: job.media.startSeconds ?? 0,
          frames: posterFrames(video.frameRate),
          ...size,
          toneMap,
          output,
        });
        if (!chosen || frame.meanLuma > chosen.frame.meanLuma) chosen = { frame, output };
        if (frame.meanLuma >= DARK_LUMA) break;
      }
      const posterKey = keys.poster(videoId, revision);
      await ports.objects.putFile('output', posterKey, chosen!.output, 'image/jpeg');

      const plan = storyboardPlan(duration, video);
      const sprite = join(dir, STORYBOARD_IMAGE_FILE);
      const times = await ports.media.storyboard({ input, format, ...plan, toneMap, output: sprite });
      const tiles = storyboardTiles(times, duration, plan);
      const imageKey = keys.storyboardImage(videoId, revision);
      await ports.objects.putFile('output', imageKey, sprite, 'image/jpeg');
      // Its cues name the sprite beside it, where it is stored and where it is served (`/v/<id>/<revision>/`).
      const track = renderStoryboardVtt(tiles, plan, STORYBOARD_IMAGE_FILE);
      const key = keys.storyboard(videoId, revision);
      await ports.objects.put('output', key, track, 'text/vtt; charset=utf-8');
      return {
        poster: { key: posterKey, seconds: Math.round(chosen!.frame.seconds * 1000) / 1000, ...size },
        storyboard: { key, imageKey, tiles: tiles.length, intervalSeconds: plan.intervalSeconds },
      };
    });
  } catch (error) {
    if (!(error instanceof PreviewFailed)) throw error;
    // What was written before the failure is the revision's: CleanUp or a retirement removes it with the rest.
    for (const key of [keys.poster(videoId, revision), keys.storyboardImage(videoId, revision)]) await ports.objects.delete('output', key);
    return { skipped: error.message };
  }
}

/** What the history says of the pictures: "poster at 3.84 s, storyboard of 16 tiles (every 2 s)", or why there are none. */
export function describePreviews(result: PreviewsResult): string {
  if (result.skipped) return `no poster or storyboard: ${result.skipped}`;
  const parts = [
    result.poster && `poster at ${result.poster.seconds} s`,
    result.storyboard && `storyboard of ${result.storyboard.tiles} tiles (every ${result.storyboard.intervalSeconds} s)`,
  ];
  return parts.filter(Boolean).join(', ');
}

/** makePreviews's entry in the step table. */
export const makePreviewsStep = entry({
  invokedBy: 'state machine',
  ports: ['objects', 'media'],
  variables: [],
  // Presigned GET of the source for ffmpeg; the pictures under v/ only, never a route record.
  access: { objects: { input: ['get', 'list'], 'output/v': ['put', 'delete'], 'output/routes': ['get'], output: ['list'] } },
  parse: parseMakePreviewsInput,
  run: (input, ports, settings) => makePreviews(input, ports, settings),
  // Pictures that could not be made are a warning of the conversion (`convert` prints it); made ones, a note.
  progress: (result) =>
    result.skipped ? { warnings: [describePreviews(result)] } : result.poster ? { notes: [describePreviews(result)] } : {},
});
