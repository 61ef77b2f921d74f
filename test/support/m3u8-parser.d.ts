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
  }
  export class Parser {
    manifest: ParsedManifest;
    push(chunk: string): void;
    end(): void;
    on(event: 'warn' | 'info', listener: (event: { message: string }) => void): void;
  }
}
