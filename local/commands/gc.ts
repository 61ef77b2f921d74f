// `lambda-hls gc [--dry-run] [--json] [--stage S]`: removes what no registered video and no running
// conversion owns (what a killed run leaves behind), and lists it.
import { collectGarbage } from '../../src/registry/gc';
import type { Target } from '../targets';
import type { GcJson } from './contracts';
import { EXIT_OK, printJson, say } from './output';

export async function runGc(target: Target, dryRun: boolean, json: boolean): Promise<number> {
  const report = await collectGarbage(target.stores(), () => target.running(), {
    dryRun,
    inputIsScratch: target.inputIsScratch,
    ...(target.abandoned && { abandoned: target.abandoned }),
  });
  if (json) {
    const out: GcJson = { dryRun, ...report };
    printJson(out);
    return EXIT_OK;
  }
  const verb = dryRun ? 'would remove' : 'removed';
  for (const name of report.functions) say(`  ${verb} function ${name}`);
  for (const path of report.objects) say(`  ${verb} object ${path}`);
  say(
    `lambda-hls: gc ${verb} ${report.functions.length} functions and ${report.objects.length} objects that no video and no running conversion owns`,
  );
  return EXIT_OK;
}
