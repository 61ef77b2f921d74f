// `lambda-hls convert <file> [--json] [--segment-seconds N] [--profile P] [--stage S]`
import type { ConversionOptions } from '../../src/core/model';
import { progressReporter } from '../progress';
import type { Target } from '../targets';
import type { ConvertJson } from './contracts';
import { EXIT_FAILED, EXIT_OK, printJson, say } from './output';

export async function runConvert(target: Target, file: string, options: ConversionOptions, json: boolean): Promise<number> {
  if (!json) say(`lambda-hls: converting ${file}${target.where}`);
  const progress = progressReporter(process.stderr);
  const result = await target.convert(file, options, {
    onEvent: progress,
    onSegmenting: progress.segmenting,
    note: (text) => {
      if (!json) say(text);
    },
  });
  if (json) {
    const out: ConvertJson = {
      status: result.status,
      videoId: result.videoId,
      executionName: result.executionName,
      playlist: result.playlist,
      segments: result.segments,
      stats: result.stats,
      ...(result.encoding && { encoding: result.encoding }),
      warnings: result.warnings,
      ...(result.error && { error: result.error }),
    };
    printJson(out);
  } else if (result.status === 'SUCCEEDED') {
    if (result.reused) say(`  already converted: nothing to do (execution ${result.executionName})`);
    say(`lambda-hls: ${result.videoId} is ready: ${result.segments} segments`);
    say(`  playlist  ${result.playlist}`);
    say(`  ${target.playHint(result)}`);
    for (const warning of result.warnings) say(`  warning   ${warning}`);
  } else {
    const e = result.error;
    say(`lambda-hls: conversion failed in ${e?.state ?? 'an unknown state'}: ${e?.error ?? 'error'}: ${e?.cause ?? ''}`);
    say(`  details   lambda-hls history ${result.executionName}${target.flags}`);
  }
  return result.status === 'SUCCEEDED' ? EXIT_OK : EXIT_FAILED;
}
