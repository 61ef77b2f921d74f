// `lambda-hls gc [--dry-run] [--json] [--stage S]`: removes what no registered video and no running
// conversion owns (what a killed run leaves behind), and lists it.
import { collectGarbage } from '../../src/registry/gc';
import { unreadableLine } from '../../src/registry/routes';
import type { Target } from '../targets';
import type { GcJson } from './contracts';
import { EXIT_OK, plural, printJson, say } from './output';

export async function runGc(target: Target, dryRun: boolean, json: boolean): Promise<number> {
  const report = await collectGarbage(target.stores(), () => target.running(), {
    dryRun,
    inputIsScratch: target.inputIsScratch,
    ...(target.leftovers && { leftovers: target.leftovers }),
    ...(target.hold && { hold: (videoId: string) => target.hold!(videoId) }),
    ...(target.videoIdOf && { videoIdOf: (sourceKey: string) => target.videoIdOf!(sourceKey) }),
  });
  if (json) {
    const out: GcJson = {
      dryRun,
      functions: report.functions,
      objects: report.objects,
      leftovers: report.leftovers,
      unreadable: report.unreadable.map((u) => u.key),
      busy: report.busy,
      reservations: report.reservations,
    };
    printJson(out);
    return EXIT_OK;
  }
  const verb = dryRun ? 'would remove' : 'removed';
  for (const name of report.functions) say(`  ${verb} function ${name}`);
  for (const path of report.objects) say(`  ${verb} object ${path}`);
  for (const path of report.leftovers) say(`  ${verb} leftover ${path}`);
  for (const run of report.reservations) say(`  ${dryRun ? 'would give' : 'gave'} back the code storage ${run} reserved (its run is over)`);
  const unreadable = unreadableLine(report.unreadable);
  if (unreadable) say(`  kept everything of ${unreadable}`);
  if (report.busy.length > 0) say(`  kept ${plural(report.busy.length, 'video')} being converted now: ${report.busy.join(', ')}`);
  say(
    `lambda-hls: gc ${verb} ${plural(report.functions.length, 'function')}, ${plural(report.objects.length, 'object')} and ${plural(report.leftovers.length, 'leftover')} that no video and no running conversion owns`,
  );
  return EXIT_OK;
}
