// `lambda-hls convert <file>... [--json] [--segment-seconds N] [--profile P] [--transcode] [--stage S]`
import type { ConversionOptions } from '../../src/core/model';
import { CliError, notAFile } from '../errors';
import { progressReporter } from '../progress';
import type { Target } from '../targets';
import type { ConvertJson } from './contracts';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, printJson, plural, say } from './output';

/**
 * Each file in turn, with its own progress and result (with --json, one object per line); the exit
 * status is the worst of them. Names that are not files stop it before anything is converted.
 */
export async function runConvertAll(
  target: Target,
  files: string[],
  options: ConversionOptions,
  json: boolean,
  captions: string[] = [],
): Promise<number> {
  // An s3:// URL is the stage's to check.
  const wrong = files
    .filter((file) => !/^s3:\/\//i.test(file))
    .map(notAFile)
    .filter((why): why is string => why !== undefined);
  if (wrong.length > 0) throw new CliError(`${wrong.join('; ')}: nothing was converted`);
  const interrupt = onInterrupt();
  let worst = EXIT_OK;
  const failed: string[] = [];
  try {
    for (const file of files) {
      let code: number;
      try {
        code = await runConvert(target, file, options, json, interrupt.signal, captions);
      } catch (error) {
        if (files.length === 1 && !interrupt.signal.aborted) throw error;
        // One file's trouble does not stop the others; main() would have said the same.
        say(`lambda-hls: ${(error as Error).message}`);
        code = error instanceof CliError ? EXIT_USAGE : EXIT_FAILED;
      }
      if (code !== EXIT_OK) failed.push(file);
      worst = Math.max(worst, code);
      if (interrupt.signal.aborted) {
        if (files.length > 1) say(`lambda-hls: ${interrupt.signal.reason}: the files after ${file} were not converted`);
        return interrupt.exitCode();
      }
    }
  } finally {
    interrupt.dispose();
  }
  if (files.length > 1 && !json) {
    say(
      `lambda-hls: converted ${files.length - failed.length} of ${plural(files.length, 'file')}${failed.length ? `; not converted: ${failed.join(', ')}` : ''}`,
    );
  }
  return worst;
}

const SIGNALS = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const;

/**
 * While a convert runs, SIGINT (Ctrl-C), SIGTERM and SIGHUP stop it cleanly instead of killing
 * Node under ffmpeg: the signal aborts, the run stops ffmpeg, removes its scratch and records the
 * execution ABORTED; the exit status is then 128 + the signal's number. A second signal exits at once.
 */
function onInterrupt() {
  const controller = new AbortController();
  let received: keyof typeof SIGNALS | undefined;
  const handlers = Object.keys(SIGNALS).map((name) => {
    const signal = name as keyof typeof SIGNALS;
    const handler = () => {
      if (received) process.exit(128 + SIGNALS[received]);
      received = signal;
      say(`lambda-hls: ${signal} received: stopping (again to exit at once)`);
      controller.abort(signal);
    };
    process.on(signal, handler);
    return [signal, handler] as const;
  });
  return {
    signal: controller.signal,
    exitCode: () => 128 + SIGNALS[received ?? 'SIGINT'],
    dispose: () => {
      for (const [signal, handler] of handlers) process.off(signal, handler);
    },
  };
}

export async function runConvert(
  target: Target,
  file: string,
  options: ConversionOptions,
  json: boolean,
  signal?: AbortSignal,
  captions: string[] = [],
): Promise<number> {
  if (!json) say(`lambda-hls: converting ${file}${target.where}`);
  const progress = progressReporter(process.stderr);
  const result = await target.convert(file, options, {
    onEvent: progress,
    onSegmenting: progress.segmenting,
    note: (text) => {
      if (!json) say(text);
    },
    ...(signal && { signal }),
    ...(captions.length > 0 && { captions }),
  });
  const links = result.status === 'SUCCEEDED' ? target.linksOf?.(result.videoId) : undefined;
  if (json) {
    const out: ConvertJson = {
      file,
      status: result.status,
      videoId: result.videoId,
      executionName: result.executionName,
      playlist: result.playlist,
      ...(links && links),
      segments: result.segments,
      ...(result.renditions && { renditions: result.renditions }),
      ...(result.poster && { poster: result.poster }),
      ...(result.storyboard && { storyboard: result.storyboard }),
      ...(result.captions && { captions: result.captions }),
      stats: result.stats,
      ...(result.encoding && { encoding: result.encoding }),
      warnings: result.warnings,
      ...(result.error && { error: result.error }),
    };
    printJson(out);
  } else if (result.status === 'SUCCEEDED') {
    if (result.reused) say(`  already converted: nothing to do (execution ${result.executionName})`);
    const ladder = result.renditions ? ` in each of ${result.renditions.length} rungs` : '';
    say(`lambda-hls: ${result.videoId} is ready: ${result.segments} segments${ladder}`);
    say(`  playlist  ${result.playlist}${links ? '  (302s: VLC, ffmpeg, GStreamer, apps)' : ''}`);
    for (const r of result.renditions ?? [])
      say(
        `  ${r.name.padEnd(8)}  ${r.width}x${r.height}, ${Math.round(r.averageBandwidth / 1000)} kbit/s (peak ${Math.round(r.bandwidth / 1000)}), ${r.codecs}`,
      );
    if (result.poster) say(`  poster    ${result.poster}`);
    for (const c of result.captions ?? []) say(`  captions  ${c.name} (${c.language}): ${c.playlist}`);
    if (links)
      say(
        `  web       ${links.proxiedPlaylist}  (the bytes, with CORS: hls.js, Shaka, video.js on other pages; Safari and iOS, by Apple's 8.18)`,
      );
    say(`  ${target.playHint(result)}`);
    for (const warning of result.warnings) say(`  warning   ${warning}`);
  } else if (result.status === 'ABORTED') {
    say(
      `lambda-hls: conversion ${result.error?.cause ?? 'stopped'} in ${result.error?.state ?? 'an unknown state'}: ffmpeg stopped, scratch removed, execution ABORTED`,
    );
    say(`  details   lambda-hls history ${result.executionName}${target.flags}`);
    say(`  what it made so far goes with lambda-hls gc${target.flags}`);
  } else {
    const e = result.error;
    say(`lambda-hls: conversion failed in ${e?.state ?? 'an unknown state'}: ${e?.error ?? 'error'}: ${e?.cause ?? ''}`);
    say(`  details   lambda-hls history ${result.executionName}${target.flags}`);
  }
  return result.status === 'SUCCEEDED' ? EXIT_OK : EXIT_FAILED;
}
