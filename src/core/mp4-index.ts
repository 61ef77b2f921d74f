// What an MP4's index declares, read from its boxes (ISO/IEC 14496-12) before any tool decodes it.
// ffmpeg's mov demuxer allocates an index entry (24 bytes) for every sample a track's sample-size
// box declares, whether or not the file holds them: a 6 KB file declaring 80 million samples takes
// it to 1.8 GB. A sample takes at least one byte, so an index declaring more samples than the file
// has bytes describes media that is not there, and is refused before ffprobe sees it.
import { CorruptIndex } from './errors';

/** Reads `length` bytes at `offset` (fewer at the end of the file). */
export type ReadAt = (offset: number, length: number) => Promise<Buffer>;

/** Boxes whose children hold the sample tables (moov/trak/mdia/minf/stbl) or the fragments' (moof/traf). */
const CONTAINERS = new Set(['moov', 'trak', 'mdia', 'minf', 'stbl', 'moof', 'traf', 'mvex']);
/** Top-level boxes looked at: enough for the index and the first fragments, never a walk of a long fragmented file. */
const MAX_TOP_LEVEL_BOXES = 64;
/** Boxes looked at inside the index: a real file has a few dozen per track. */
const MAX_INNER_BOXES = 4096;
/** How much of an stts or stsc table is read at a time. */
const TABLE_READ = 1 << 20;

interface Box {
  type: string;
  /** Where the box starts, and where its content (after the header) starts and ends. */
  start: number;
  body: number;
  end: number;
}

/** One count an index declares, for the message: which box of which track. */
export interface DeclaredCount {
  track: number;
  box: string;
  samples: number;
}

async function boxAt(read: ReadAt, offset: number, limit: number): Promise<Box | undefined> {
  if (offset + 8 > limit) return undefined;
  const head = await read(offset, 16);
  if (head.length < 8) return undefined;
  let size = head.readUInt32BE(0);
  const type = head.toString('latin1', 4, 8);
  let body = offset + 8;
  if (size === 1) {
    if (head.length < 16) return undefined;
    size = Number(head.readBigUInt64BE(8));
    body = offset + 16;
  } else if (size === 0) {
    size = limit - offset; // to the end of its parent (or of the file)
  }
  if (size < body - offset) return undefined; // malformed: ffmpeg's own reading says how
  return { type, start: offset, body, end: Math.min(offset + size, limit) };
}

/** The sum of one 32-bit field over a table of `entries` rows of `row` bytes at `at`. */
async function sumColumn(read: ReadAt, at: number, end: number, entries: number, row: number, column: number): Promise<number> {
  let sum = 0;
  const rows = Math.min(entries, Math.floor((end - at) / row)); // a table that claims more rows than its box holds ends there
  for (let first = 0; first < rows; first += Math.floor(TABLE_READ / row)) {
    const count = Math.min(rows - first, Math.floor(TABLE_READ / row));
    const bytes = await read(at + first * row, count * row);
    for (let i = 0; i + row <= bytes.length; i += row) sum += bytes.readUInt32BE(i + column);
  }
  return sum;
}

/** Sample counts the boxes of one box's subtree declare. */
async function countsIn(read: ReadAt, parent: Box, found: DeclaredCount[], state: { track: number; boxes: number }): Promise<void> {
  for (let offset = parent.body; offset < parent.end; ) {
    if (++state.boxes > MAX_INNER_BOXES) return;
    const box = await boxAt(read, offset, parent.end);
    if (!box) return;
    if (box.type === 'trak') state.track += 1;
    if (CONTAINERS.has(box.type)) await countsIn(read, box, found, state);
    else {
      const full = await read(box.body, 16);
      const declare = (samples: number) => found.push({ track: state.track, box: box.type, samples });
      if (box.type === 'stsz' && full.length >= 12)
        declare(full.readUInt32BE(8)); // version/flags, sample_size, sample_count
      else if (box.type === 'stz2' && full.length >= 12) declare(full.readUInt32BE(8));
      else if (box.type === 'trun' && full.length >= 8)
        declare(full.readUInt32BE(4)); // version/flags, sample_count
      else if (box.type === 'stts' && full.length >= 8) declare(await sumColumn(read, box.body + 8, box.end, full.readUInt32BE(4), 8, 0));
    }
    offset = box.end;
  }
}

/** Every sample count the index declares: each track's sample-size and time-to-sample tables, and the first fragments' runs. */
export async function declaredSampleCounts(read: ReadAt, fileSize: number): Promise<DeclaredCount[]> {
  const found: DeclaredCount[] = [];
  const state = { track: 0, boxes: 0 };
  let offset = 0;
  for (let n = 0; n < MAX_TOP_LEVEL_BOXES; n++) {
    const box = await boxAt(read, offset, fileSize);
    if (!box) break;
    if (box.type === 'moov' || box.type === 'moof') await countsIn(read, box, found, state);
    offset = box.end;
  }
  return found;
}

/**
 * Refuses (CorruptIndex) an MP4 whose index declares more samples in a track than the file has
 * bytes. What it cannot parse it leaves to ffprobe, whose reading names the problem.
 */
export async function checkMp4Index(read: ReadAt, fileSize: number): Promise<void> {
  for (const count of await declaredSampleCounts(read, fileSize)) {
    if (count.samples > fileSize) {
      const where = count.box === 'trun' ? "a fragment's run (trun)" : `track ${count.track}, ${count.box}`;
      throw new CorruptIndex(
        `its index declares ${count.samples.toLocaleString('en-US')} samples (${where}) but the file is ` +
          `${fileSize.toLocaleString('en-US')} bytes, too few to hold them: a corrupt or crafted index, or a file cut to a fraction`,
      );
    }
  }
}
