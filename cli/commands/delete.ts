// `lambda-hls delete <videoId> | --all [--stage S]`: a video's route, functions, playlists and
// work files; or, with --all, everything under the prefix (what `serverless remove` runs first).
import { isVideoId } from '../../src/core/naming';
import { deleteEverything } from '../../src/registry/deletion';
import type { Target } from '../targets';
import { EXIT_FAILED, EXIT_OK, say } from './output';

/** Checked before any target is reached: a bad request deletes nothing and needs no credentials. */
export function deleteUsageError(videoId: string | undefined, all: boolean): string | undefined {
  if (all === (videoId !== undefined)) return 'give either a video id or --all';
  if (videoId !== undefined && !isVideoId(videoId)) return `${JSON.stringify(videoId)} is not a video id (see lambda-hls list)`;
  return undefined;
}

export async function runDelete(target: Target, videoId: string | undefined): Promise<number> {
  const stores = target.stores();
  if (videoId === undefined) {
    const removed = await deleteEverything(stores);
    say(`lambda-hls: deleted every video: ${removed.functions} functions, ${removed.objects} objects`);
    return EXIT_OK;
  }
  const removed = await target.removeVideo(videoId, say);
  if (removed.functions === 0 && removed.objects === 0) {
    say(`lambda-hls: no video ${videoId}`);
    return EXIT_FAILED;
  }
  say(`lambda-hls: deleted ${videoId}: ${removed.functions} functions, ${removed.objects} objects`);
  return EXIT_OK;
}
