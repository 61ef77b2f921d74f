// s3rver ships no types: what the rehearsal uses of it.
declare module 's3rver' {
  export default class S3rver {
    constructor(options: {
      address?: string;
      port?: number;
      silent?: boolean;
      directory: string;
      serviceEndpoint?: string;
      configureBuckets?: { name: string; configs: string[] }[];
    });
    run(): Promise<{ address: string; port: number }>;
    close(): Promise<void>;
    /** The server run() started. */
    httpServer?: import('node:http').Server;
    // biome-ignore lint/suspicious/noExplicitAny: S3 event records, read by shape
    on(event: 'event', listener: (event: { Records: any[] }) => void): this;
  }
}
