// Folding frame changes for a viewer (display/damage.ts): whatever mix of
// moves and damaged rectangles happened, a viewer holding any older frame
// that applies the folded move and then the folded rectangles ends with the
// newest frame. Checked against a model on small images.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  FOLD_MAX,
  MERGE_INPUT_MAX,
  appendChanges,
  coarsen,
  mergeDown,
  subtract,
  type Changes,
  type Move,
  type Rect,
} from '#daemon/display/damage.js';

const W = 24;
const H = 16;

function moved(image: Uint32Array, m: Move): Uint32Array {
  const out = image.slice();
  for (let y = 0; y < m.h; y++) for (let x = 0; x < m.w; x++) out[(m.y + y) * W + m.x + x] = image[(m.srcY + y) * W + m.srcX + x]!;
  return out;
}

function painted(image: Uint32Array, r: Rect, from: Uint32Array): Uint32Array {
  const out = image.slice();
  for (let y = r.y; y < r.y + r.h; y++) for (let x = r.x; x < r.x + r.w; x++) out[y * W + x] = from[y * W + x]!;
  return out;
}

const rect = fc
  .record({ x: fc.nat(W - 1), y: fc.nat(H - 1) })
  .chain(({ x, y }) =>
    fc.record({ x: fc.constant(x), y: fc.constant(y), w: fc.integer({ min: 1, max: W - x }), h: fc.integer({ min: 1, max: H - y }) }),
  );
const step = fc.oneof(
  rect.map((r) => ({ kind: 'paint' as const, r })),
  fc.record({ r: rect, dx: fc.nat(W - 1), dy: fc.nat(H - 1) }).map(({ r, dx, dy }) => {
    const w = Math.min(r.w, W - dx);
    const h = Math.min(r.h, H - dy);
    return { kind: 'move' as const, m: { x: dx, y: dy, w, h, srcX: r.x, srcY: r.y } };
  }),
);

describe('damage folding', () => {
  it('property: move then rectangles, folded over any run of changes, turns an old frame into the newest', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 40 }), fc.nat(39), (steps, start) => {
        let truth: Uint32Array = Uint32Array.from({ length: W * H }, (_, i) => i);
        let paint = 1_000_000;
        const frames: Uint32Array[] = [truth];
        const changes: Changes[] = [];
        for (const s of steps) {
          if (s.kind === 'move') {
            truth = moved(truth, s.m);
            changes.push({ move: s.m, rects: [] });
          } else {
            truth = truth.slice();
            for (let y = s.r.y; y < s.r.y + s.r.h; y++) for (let x = s.r.x; x < s.r.x + s.r.w; x++) truth[y * W + x] = paint++;
            changes.push({ move: null, rects: [s.r] });
          }
          frames.push(truth);
        }
        const from = Math.min(start, changes.length - 1);
        const folded: Changes = { move: null, rects: [] };
        for (const c of changes.slice(from)) appendChanges(folded, c);
        let viewer = frames[from]!;
        if (folded.move) viewer = moved(viewer, folded.move);
        for (const r of mergeDown(folded.rects, 4)) viewer = painted(viewer, r, truth);
        assert.deepEqual(viewer, truth);
      }),
      { numRuns: 2000 },
    );
  });

  it('a scroll after a scroll is one longer scroll plus the uncovered band', () => {
    const up = (n: number): Changes => ({
      move: { x: 0, y: 0, w: W, h: H - n, srcX: 0, srcY: n },
      rects: [{ x: 0, y: H - n, w: W, h: n }],
    });
    const f: Changes = { move: null, rects: [] };
    appendChanges(f, up(2));
    appendChanges(f, up(3));
    assert.deepEqual(f.move, { x: 0, y: 0, w: W, h: H - 5, srcX: 0, srcY: 5 });
    const area = mergeDown(f.rects, 1)[0]!;
    assert.deepEqual(area, { x: 0, y: H - 5, w: W, h: 5 }, 'only the bottom 5 rows are pixels');
  });

  it('subtract leaves the bands around the hole', () => {
    assert.deepEqual(subtract({ x: 0, y: 0, w: 10, h: 10 }, { x: 2, y: 3, w: 4, h: 4 }), [
      { x: 0, y: 0, w: 10, h: 3 },
      { x: 0, y: 7, w: 10, h: 3 },
      { x: 0, y: 3, w: 2, h: 4 },
      { x: 6, y: 3, w: 4, h: 4 },
    ]);
    assert.deepEqual(subtract({ x: 0, y: 0, w: 4, h: 4 }, { x: 10, y: 10, w: 1, h: 1 }), [{ x: 0, y: 0, w: 4, h: 4 }]);
    assert.deepEqual(subtract({ x: 0, y: 0, w: 4, h: 4 }, { x: 0, y: 0, w: 4, h: 4 }), []);
  });

  it('a long run of scrolls with damage folds into a bounded number of rectangles, fast (issue 17)', () => {
    // The demo's frame: the bars move 4 px left, a strip and a square are repainted.
    const w = 800;
    const h = 600;
    const f: Changes = { move: null, rects: [] };
    const started = process.hrtime.bigint();
    for (let t = 0; t < 64; t++) {
      appendChanges(f, {
        move: { x: 0, y: 0, w: w - 4, h, srcX: 4, srcY: 0 },
        rects: [
          { x: w - 4, y: 0, w: 4, h },
          { x: (t * 7) % 700, y: (t * 5) % 500, w: 88, h: 85 },
        ],
      });
      assert.ok(f.rects.length <= FOLD_MAX + 8, `after ${t + 1} folds: ${f.rects.length} rectangles`);
    }
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    assert.ok(ms < 500, `64 folds took ${ms.toFixed(1)} ms`);
    assert.deepEqual(f.move, { x: 0, y: 0, w: w - 256, h, srcX: 256, srcY: 0 });
  });

  it('property: coarsen covers every pixel of its input with at most max rectangles', () => {
    fc.assert(
      fc.property(fc.array(rect, { minLength: 0, maxLength: 300 }), fc.integer({ min: 1, max: 80 }), (rs, max) => {
        const out = coarsen(rs, max);
        assert.ok(out.length <= Math.max(max, rs.length <= max ? rs.length : 0), `${out.length} > ${max}`);
        for (const r of rs)
          for (let y = r.y; y < r.y + r.h; y++)
            for (let x = r.x; x < r.x + r.w; x++)
              assert.ok(
                out.some((o) => x >= o.x && x < o.x + o.w && y >= o.y && y < o.y + o.h),
                `(${x},${y}) uncovered`,
              );
      }),
      { numRuns: 300 },
    );
  });

  it('mergeDown of many thousands of rectangles is bounded in time and output', () => {
    const rs: Rect[] = [];
    for (let i = 0; i < 20000; i++) rs.push({ x: (i * 37) % 3800, y: (i * 53) % 2100, w: 1 + (i % 40), h: 1 + (i % 30) });
    const started = process.hrtime.bigint();
    const out = mergeDown(rs, 16);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    assert.ok(out.length <= 16);
    assert.ok(ms < 1000, `took ${ms.toFixed(1)} ms (input coarsened to ${MERGE_INPUT_MAX} first)`);
  });
});
