// What a file's first bytes look like, for messages only: "x.mp4 is not MP4: it is a DASH
// manifest" tells a person more than ffprobe's "moov atom not found". The demuxer that reads a
// file is chosen by its extension and never by this.

/** How many leading bytes `describeContent` looks at. */
export const SNIFF_BYTES = 512;

export interface ContentGuess {
  /** The format our demuxer for it would read, when it is one of ours. */
  format?: 'mp4' | 'mp3';
  /** In words: "a DASH manifest", "WAV audio". */
  description: string;
}

function isMp3Frame(head: Buffer, at: number): boolean {
  // 11 sync bits, MPEG version not "reserved", layer III
  return (
    head.length > at + 1 &&
    head[at] === 0xff &&
    (head[at + 1]! & 0xe0) === 0xe0 &&
    (head[at + 1]! & 0x18) !== 0x08 &&
    (head[at + 1]! & 0x06) === 0x02
  );
}

/** Printable bytes, tabs and line ends only (UTF-8 passes: its bytes are all ≥ 0x80). */
function isText(bytes: Buffer): boolean {
  return bytes.every((b) => b === 0x09 || b === 0x0a || b === 0x0d || (b >= 0x20 && b !== 0x7f));
}

export function describeContent(head: Buffer): ContentGuess | undefined {
  const ascii = head.toString('latin1');
  const box = ascii.slice(4, 8);
  if (['ftyp', 'moov', 'mdat', 'free', 'skip', 'wide', 'styp'].includes(box)) return { format: 'mp4', description: 'an MP4 file' };
  if (ascii.startsWith('ID3') || isMp3Frame(head, 0)) return { format: 'mp3', description: 'MP3 audio' };
  if (ascii.startsWith('RIFF') && ascii.slice(8, 12) === 'WAVE') return { description: 'WAV audio' };
  if (ascii.startsWith('RIFF') && ascii.slice(8, 12) === 'AVI ') return { description: 'an AVI video' };
  if (ascii.startsWith('\x1a\x45\xdf\xa3')) return { description: 'a Matroska or WebM video' };
  if (ascii.startsWith('OggS')) return { description: 'an Ogg file' };
  if (ascii.startsWith('fLaC')) return { description: 'FLAC audio' };
  if (head[0] === 0x47 && head[188] === 0x47) return { description: 'an MPEG transport stream' };
  if (ascii.startsWith('\x89PNG')) return { description: 'a PNG picture' };
  if (ascii.startsWith('\xff\xd8\xff')) return { description: 'a JPEG picture' };
  const text = ascii.replace(/^\ufeff|^\xef\xbb\xbf/, '').trimStart();
  if (text.startsWith('#EXTM3U')) return { description: 'an HLS playlist (a text file of links, which is never followed)' };
  if (/<MPD[\s>]/.test(text)) return { description: 'a DASH manifest (a text file of links, which is never followed)' };
  if (/^<(!doctype html|html)/i.test(text)) return { description: 'an HTML page' };
  if (text.startsWith('<?xml')) return { description: 'an XML document' };
  if (text.length > 0 && isText(head.subarray(0, 256))) return { description: 'a text file' };
  return undefined;
}
