// Types for the parts of m3u8-parser (videojs) the tests use; the package ships none.
declare module 'm3u8-parser' {
  export interface ParsedSegment {
    duration: number;
    uri: string;
    byterange?: { length: number; offset: number };
  }
  export interface ParsedManifest {
    version?: number;
    targetDuration?: number;
    mediaSequence?: number;
    playlistType?: string;
    endList?: boolean;
    segments: ParsedSegment[];
    /** A multivariant playlist's variants (EXT-X-STREAM-INF), attributes parsed (RESOLUTION as width and height). */
    playlists: ParsedVariant[];
    /** EXT-X-I-FRAME-STREAM-INF lines. */
    iFramePlaylists?: ParsedVariant[];
  }
  export interface ParsedVariant {
    uri: string;
    attributes: Record<string, string | number | { width: number; height: number }>;
  }
  export class Parser {
    manifest: ParsedManifest;
    push(chunk: string): void;
    end(): void;
    on(event: 'warn' | 'info', listener: (event: { message: string }) => void): void;
  }
}
