// `lambda-hls history <videoId|executionName> [--json] [--stage S]`: each state with status,
// timing, retries and Map progress, and for a failed run the failed state, error and cause.
import type { StateSummary } from '../../src/core/history';
import type { HistoryView, Target } from '../targets';
import type { HistoryJson } from './contracts';
import { EXIT_FAILED, EXIT_OK, plural, printJson, say } from './output';

export async function runHistory(target: Target, id: string, json: boolean): Promise<number> {
  const view = await target.history(id);
  if (!view) {
    say(`lambda-hls: no execution or video named ${id}${target.where} (see lambda-hls list${target.flags})`);
    return EXIT_FAILED;
  }
  printHistory(view, json);
  return EXIT_OK;
}

/** What a Map's iterations are, by what they made: chunks (EncodeChunks), batches of packages (PackageSegments). */
function iterationNames(s: StateSummary): [string, string] {
  if (s.chunkSeconds) return ['chunk', 'chunks'];
  return s.packages !== undefined ? ['batch', 'batches'] : ['iteration', 'iterations'];
}

/** Prints one execution's history the same way, whether it ran here or in AWS. */
function printHistory(view: HistoryView, json: boolean): void {
  const { states, error } = view;
  if (json) {
    const out: HistoryJson = {
      executionName: view.executionName,
      videoId: view.videoId,
      status: view.status,
      startedAt: view.startedAt,
      stoppedAt: view.stoppedAt ?? null,
      states: states.map((s) => ({
        state: s.state,
        status: s.status,
        startedAt: new Date(s.startedAt).toISOString(),
        seconds: s.stoppedAt !== undefined ? (s.stoppedAt - s.startedAt) / 1000 : null,
        retries: s.retries,
        ...(s.callRetries && { callRetries: s.callRetries }),
        ...(s.iterations && { iterations: s.iterations }),
        ...(s.packages !== undefined && { packages: s.packages }),
        ...(s.chunkSeconds && { chunkSeconds: s.chunkSeconds }),
        ...(s.notes && { notes: s.notes }),
        ...(s.warnings && { warnings: s.warnings }),
        ...(s.error && { error: s.error, cause: s.cause }),
      })),
      stats: view.stats,
      ...(error && { error }),
    };
    printJson(out);
    return;
  }
  const out: string[] = [];
  out.push(`execution  ${view.executionName}`);
  out.push(`video      ${view.videoId} (${view.sourceKey})`);
  out.push(`status     ${view.status}`);
  out.push(`started    ${view.startedAt}${view.stoppedAt ? `   stopped ${view.stoppedAt}` : ''}`);
  out.push('');
  out.push(`  ${'STATE'.padEnd(16)} ${'STATUS'.padEnd(10)} ${'TIME'.padStart(8)}  NOTES`);
  for (const s of states) {
    if (s.type === 'Choice') continue; // it only routes
    const time = s.stoppedAt !== undefined ? `${((s.stoppedAt - s.startedAt) / 1000).toFixed(1)}s` : '-';
    const notes = [
      s.iterations && `${s.iterations.succeeded}/${plural(s.iterations.started, ...iterationNames(s))}`,
      s.packages !== undefined && plural(s.packages, 'package'),
      s.retries > 0 && `${s.retries} retr${s.retries === 1 ? 'y' : 'ies'}`,
      s.callRetries && `${s.callRetries} call${s.callRetries === 1 ? '' : 's'} retried in-step`,
      s.error && `${s.error}`,
      ...(s.notes ?? []),
    ].filter(Boolean);
    out.push(`  ${s.state.padEnd(16)} ${s.status.padEnd(10)} ${time.padStart(8)}  ${notes.join(', ')}`);
    for (const warning of s.warnings ?? []) out.push(`  ${''.padEnd(16)} ${'warning'.padEnd(10)} ${''.padStart(8)}  ${warning}`);
  }
  const { stats } = view;
  out.push('');
  out.push(
    `size       ${plural(stats.segments, 'segment')}, ${plural(stats.packages, 'package')}, largest state ${stats.maxStatePayloadBytes} bytes (limit 262144), ${stats.historyEvents} history events (limit 25000)`,
  );
  if (stats.chunkSeconds) {
    out.push(
      `chunks     ${stats.chunkSeconds.length}, encoded in ${stats.chunkSeconds.map((t) => `${t.toFixed(1)}s`).join(', ')} (each chunk's ffmpeg, in order)`,
    );
  }
  if (error) {
    out.push('');
    out.push(`failed state  ${error.state}`);
    out.push(`error         ${error.error}`);
    out.push(`cause         ${error.cause}`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
}
