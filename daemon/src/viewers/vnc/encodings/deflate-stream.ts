// One persistent zlib stream per client and encoding, as RFB's zlib and ZRLE
// encodings require: the client keeps one inflate stream for the whole
// connection, so every rectangle continues the same deflate stream and ends
// with a sync flush.
import { constants, createDeflate, type Deflate } from 'node:zlib';

export class DeflateStream {
  private readonly z: Deflate;
  private chunks: Buffer[] = [];
  private failed: Error | null = null;

  constructor(level: number) {
    this.z = createDeflate({ level, memLevel: 9 });
    this.z.on('data', (c: Buffer) => this.chunks.push(c));
    this.z.on('error', (e) => (this.failed = e));
  }

  /** Compresses `data` and sync-flushes; resolves with the bytes for this rectangle. */
  compress(data: Buffer | Buffer[]): Promise<Buffer> {
    for (const d of Array.isArray(data) ? data : [data]) this.push(d);
    return this.finish();
  }

  /** Feeds part of a rectangle's data (compressed on the thread pool meanwhile). */
  push(data: Buffer): void {
    if (!this.failed && data.length > 0) this.z.write(data);
  }

  /** Sync-flushes what was pushed; resolves with the bytes for this rectangle. */
  finish(): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      if (this.failed) return reject(this.failed);
      this.z.flush(constants.Z_SYNC_FLUSH, () => {
        if (this.failed) return reject(this.failed);
        const out = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
        this.chunks = [];
        resolve(out);
      });
    });
  }

  close(): void {
    this.z.destroy();
  }
}
