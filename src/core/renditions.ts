// The rendition table: every rendition a conversion can make, and how each is made. Planning
// (encoding.ts), the ffmpeg arguments, the option's parser, the CLI's --profile and the route
// record read it; a new rendition is a row here. Today's two rows are the `--profile` choices:
// `source` (the picture as it is, copied when every player can decode it) and `360p`.

/** How a rendition's picture is sized. */
export type RenditionSize =
  /** The source's own size (upright, even: 4:2:0 needs even sizes). */
  | { fit: 'source' }
  /** Fitted inside width × height keeping its aspect, and letterboxed to exactly that. */
  | { fit: 'box'; width: number; height: number };

/** How its bit rate is chosen: a constant quality (CRF), or an average rate with its VBV buffer. */
export type RenditionRate = { crf: number } | { kbps: number; maxKbps: number; bufferKbps: number };

export interface Rendition {
  /** Its name: the `profile` option's value, the route record's rendition. */
  name: string;
  /** What a person reads in `convert` and history: "transcoding to H.264 360p". */
  label: string;
  /** What `--help` says of it. */
  summary: string;
  codec: 'h264';
  size: RenditionSize;
  rate: RenditionRate;
  /** H.264 profile and level (`-profile:v`, `-level`); the encoder's choice when absent. */
  profile?: 'baseline' | 'main' | 'high';
  level?: string;
  /** AAC-LC bit rate of its sound when the sound is encoded. */
  audioKbps: number;
  /** Whether an H.264 source every player decodes as it is is copied for this rendition (not encoded). */
  copiesPlayableSource: boolean;
}

export const RENDITIONS = [
  {
    name: 'source',
    label: 'H.264',
    summary: 'keep H.264 as it is',
    codec: 'h264',
    size: { fit: 'source' },
    rate: { crf: 23 },
    audioKbps: 128,
    copiesPlayableSource: true,
  },
  {
    // The classic HLS rendition.
    name: '360p',
    label: 'H.264 360p',
    summary: '640x360 baseline 3.0',
    codec: 'h264',
    size: { fit: 'box', width: 640, height: 360 },
    rate: { kbps: 800, maxKbps: 856, bufferKbps: 1200 },
    profile: 'baseline',
    level: '3.0',
    audioKbps: 96,
    copiesPlayableSource: false,
  },
] as const satisfies readonly Rendition[];

export type RenditionName = (typeof RENDITIONS)[number]['name'];

export const RENDITION_NAMES: readonly RenditionName[] = RENDITIONS.map((r) => r.name);

/** The rendition a conversion makes when nothing says otherwise. */
export const DEFAULT_RENDITION: RenditionName = 'source';

/** Sound's bit rate when it is encoded with no picture, or beside a copied one. */
export const DEFAULT_AUDIO_KBPS = 128;

export function isRenditionName(name: string): name is RenditionName {
  return (RENDITION_NAMES as readonly string[]).includes(name);
}

export function renditionNamed(name: RenditionName): Rendition & { name: RenditionName } {
  return RENDITIONS.find((r) => r.name === name)!;
}

/** `--help`'s words for the choices: "source: keep H.264 as it is; 360p: 640x360 baseline 3.0". */
export function describeRenditions(): string {
  return RENDITIONS.map((r) => `${r.name}: ${r.summary}`).join('; ');
}

// The ladder: the rungs an adaptive stream is made of, from the top down. Sizes are the short
// side of the picture (the height of a landscape source, the width of a portrait one), the long
// side following the source's aspect; rates are for 16:9 at up to 30 fps (libx264 veryfast, after
// Apple's HLS authoring spec's example ladder) and scale with the picture's area and frame rate.
// The lowest is the cellular rung (Apple 9.21: a variant at or below 192 kbit/s), with its own
// sound at a low rate.

/** One rung of the ladder table. */
export interface LadderRung {
  /** Its short side in pixels: the `--ladder` value and the name's number (`720p`). */
  height: number;
  /** Average video bit rate for 16:9 at up to 30 fps, in kbit/s; the peak is capped at 110 % of it. */
  kbps: number;
  profile: 'baseline' | 'main' | 'high';
  /** The rung's sound: the ladder's shared sound, or the cellular rung's own at a low rate. */
  audio: 'shared' | 'low';
}

export const LADDER: readonly LadderRung[] = [
  { height: 1080, kbps: 5000, profile: 'high', audio: 'shared' },
  { height: 720, kbps: 2800, profile: 'high', audio: 'shared' },
  { height: 480, kbps: 1400, profile: 'main', audio: 'shared' },
  { height: 360, kbps: 800, profile: 'main', audio: 'shared' },
  { height: 234, kbps: 80, profile: 'main', audio: 'low' },
];

/** The ladder's shared sound and the cellular rung's, AAC-LC stereo, in kbit/s. */
export const LADDER_AUDIO_KBPS = { shared: 128, low: 48 } as const;

/** The peak (VBV maximum rate) over the average, and the VBV buffer in seconds of the peak. */
export const LADDER_PEAK_RATIO = 1.1;
export const LADDER_BUFFER_SECONDS = 1.5;
