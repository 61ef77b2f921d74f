// PackageSegments (one Map iteration): the segment becomes the only entry of a stored zip, and
// the zip becomes a function's code package.
import { SegmentTooLarge } from '../../src/core/errors';
import { numberAt, objectAt, revisionAt, stringAt, videoIdAt, type PackageReceipt } from '../../src/core/model';
import { keys, packageFunctionName } from '../../src/core/naming';
import { writeStoredZip } from '../../src/core/zip';
import type { CodeStore, ObjectStore } from '../../src/ports';

/** Lambda: function code and layers ≤ 250 MB unzipped (262,144,000 bytes). */
export const MAX_PACKAGE_BYTES = 262_144_000;

export interface PackageSegmentsPorts {
  objects: ObjectStore;
  code: CodeStore;
  functionPrefix: string;
}

export function segmentEntryName(index: number): string {
  return `${String(index).padStart(5, '0')}.ts`;
}

export async function packageSegment(event: unknown, ports: PackageSegmentsPorts): Promise<PackageReceipt> {
  const raw = objectAt(event, 'Map item');
  const videoId = videoIdAt(raw.videoId, 'videoId');
  const revision = revisionAt(raw.revision, 'revision');
  const segment = objectAt(raw.segment, 'segment');
  const index = numberAt(segment.index, 'segment.index');
  const key = stringAt(segment.key, 'segment.key');
  const declared = numberAt(segment.bytes, 'segment.bytes');
  if (declared > MAX_PACKAGE_BYTES) {
    throw new SegmentTooLarge(
      `segment ${index} is ${Math.round(declared / 1e6)} MB; a package holds at most ${MAX_PACKAGE_BYTES / 1e6} MB: use shorter segments`,
    );
  }
  const functionName = packageFunctionName(ports.functionPrefix, videoId, revision, index);
  const entryName = segmentEntryName(index);
  const data = await ports.objects.get('work', key);
  const zip = writeStoredZip([{ name: entryName, data }]);
  // The claim comes first: whatever happens after it, CleanUp knows this function may exist.
  await ports.objects.put('work', keys.packageClaim(videoId, revision, functionName), '', 'text/plain');
  const stored = await ports.code.createPackage(functionName, zip.bytes);
  return {
    index,
    functionName,
    entryName,
    codeSha256: stored.codeSha256,
    zipBytes: zip.bytes.length,
    created: stored.created,
  };
}
