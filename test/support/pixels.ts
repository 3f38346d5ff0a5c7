// Pixel comparisons for the viewer tests: everything as RGBA, alpha ignored
// on the reference side and required opaque on the viewer's.
import assert from 'node:assert/strict';

export interface Picture {
  width: number;
  height: number;
  rgba: Buffer;
}

export function bgraToRgba(bgra: Buffer): Buffer {
  const out = Buffer.allocUnsafe(bgra.length);
  for (let i = 0; i < bgra.length; i += 4) {
    out[i] = bgra[i + 2]!;
    out[i + 1] = bgra[i + 1]!;
    out[i + 2] = bgra[i]!;
    out[i + 3] = 0xff;
  }
  return out;
}

/** How many pixels of `got` differ from `want` (RGBA, same size), with the first few for a message. */
export function diffRgba(got: Buffer, want: Buffer, width: number): { differ: number; examples: string[] } {
  let differ = 0;
  const examples: string[] = [];
  for (let i = 0; i < want.length; i += 4) {
    if (got[i] === want[i] && got[i + 1] === want[i + 1] && got[i + 2] === want[i + 2] && got[i + 3] === 0xff) continue;
    differ++;
    if (examples.length < 4) {
      const p = i / 4;
      examples.push(
        `(${p % width},${Math.floor(p / width)}) rgba(${got[i]},${got[i + 1]},${got[i + 2]},${got[i + 3]}) want rgb(${want[i]},${want[i + 1]},${want[i + 2]})`,
      );
    }
  }
  return { differ, examples };
}

/**
 * Asserts that `capture()` shows `ref` exactly, allowing the client
 * `settleMs` to draw its last update.
 */
export async function assertShows(name: string, ref: Picture, capture: () => Promise<Picture>, settleMs = 8000): Promise<void> {
  const end = Date.now() + settleMs;
  let got: Picture;
  let d: { differ: number; examples: string[] };
  for (;;) {
    got = await capture();
    d = got.width === ref.width && got.height === ref.height ? diffRgba(got.rgba, ref.rgba, ref.width) : { differ: -1, examples: [] };
    if (d.differ === 0 || Date.now() > end) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.deepEqual([got.width, got.height], [ref.width, ref.height], `${name}: size`);
  assert.equal(d.differ, 0, `${name}: ${d.differ} of ${ref.width * ref.height} pixels differ: ${d.examples.join('; ')}`);
}
