// Pixel comparisons for the viewer tests: everything as RGBA, alpha ignored
// on the reference side and required opaque on the viewer's.

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
      examples.push(`(${p % width},${Math.floor(p / width)}) rgba(${got[i]},${got[i + 1]},${got[i + 2]},${got[i + 3]}) want rgb(${want[i]},${want[i + 1]},${want[i + 2]})`);
    }
  }
  return { differ, examples };
}
