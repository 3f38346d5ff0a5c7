// Property-based fuzzing of the vfio-user decoder and session against the
// real daemon over a real socket (issue 7). Sequences of valid, mutated and
// random messages, with and without fds (memfds, eventfds), some NO_REPLY,
// are pipelined on fresh connections. Properties:
//  - every command without NO_REPLY gets exactly one reply, the others none
//    (ids tracked; a sentinel read proves the stream is complete);
//  - the daemon never crashes or hangs: the sentinel read and a VERSION on a
//    fresh connection are answered;
//  - after the client leaves, the daemon's fd count is back to its idle
//    baseline and no guest memory (memfd) is left mapped;
//  - RSS stays bounded over the whole run.
// A message that breaks framing (bad size, too many fds, hang-up inside a
// message) closes that client only.
//
// FUZZ_MESSAGES (default 100000), FUZZ_SEED, FUZZ_MINUTES (scripts/fuzz:
// keep going until then) and FUZZ_RSS_LIMIT_MIB (allowed RSS growth,
// default 128) tune the run; a failure prints the seed and path
// for fast-check to replay, and the shrunk sequence.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { Command, MsgFlag, encodeMessage } from 'vfio-user-ts';
import { startDaemon, type RunningDaemon } from '../support/daemon.js';
import { FdPool, anyMsg, rssKiB, runSequence, settled, validMsg } from './session-gen.js';

const target = Number(process.env.FUZZ_MESSAGES ?? 100_000);
const minutes = Number(process.env.FUZZ_MINUTES ?? 0);
const seed0 = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
// ASan's quarantine and shadow memory make RSS grow far more: scripts/asan-test.sh raises this.
const RSS_GROWTH_LIMIT_KIB = Number(process.env.FUZZ_RSS_LIMIT_MIB ?? 128) * 1024;

describe('session fuzzing (live daemon)', { timeout: minutes > 0 ? (minutes + 5) * 60_000 : 300_000 }, () => {
  let d: RunningDaemon;
  let pool: FdPool;
  let baselineFds = 0;

  before(async () => {
    d = await startDaemon(['--log-level', 'info']);
    pool = new FdPool();
    // Warm up (JIT, first client) before taking the baselines.
    const c = await d.connectNegotiated();
    await runSequence(c, pool, []);
    c.close();
    await new Promise((r) => setTimeout(r, 50));
    baselineFds = d.fdCount();
  });
  after(async () => {
    pool?.close();
    await d?.stop();
  });

  async function freshClientWorks(): Promise<void> {
    const c = await d.connectNegotiated();
    assert.equal(await c.read32(0, 0x1000), 0x58464741);
    c.close();
  }

  it(`answers every command exactly once over >= ${target} fuzzed messages and leaks nothing (seed ${seed0})`, async () => {
    let total = 0;
    let replies = 0;
    let round = 0;
    const started = Date.now();
    let rssStart = 0;
    let rssMax = 0;
    const deadline = minutes > 0 ? started + minutes * 60_000 : 0;
    while (minutes > 0 ? Date.now() < deadline : total < target) {
      const seed = seed0 + round++;
      await fc.assert(
        fc.asyncProperty(fc.array(anyMsg, { minLength: 200, maxLength: 600 }), async (msgs) => {
          const c = await d.connectNegotiated();
          try {
            const r = await runSequence(c, pool, msgs);
            replies += r.replies;
          } finally {
            c.close();
          }
          await settled(d, baselineFds);
          assert.ok(d.alive(), 'daemon alive');
          total += msgs.length;
        }),
        { seed, numRuns: 25, endOnFailure: false, verbose: 1 },
      );
      d.logs.length = 0; // the harness keeps every log line; we do not need them
      const rss = rssKiB(d.pid);
      if (round === 1) rssStart = rss;
      rssMax = Math.max(rssMax, rss);
      assert.ok(rss - rssStart < RSS_GROWTH_LIMIT_KIB, `RSS grew from ${rssStart} to ${rss} KiB`);
    }
    await freshClientWorks();
    await settled(d, baselineFds);
    const secs = (Date.now() - started) / 1000;
    console.log(
      `session fuzz: ${total} messages (${replies} replies) in ${secs.toFixed(1)} s, ${Math.round(total / secs)} msg/s; ` +
        `daemon RSS ${rssStart} -> ${rssKiB(d.pid)} KiB (max ${rssMax}); fds back to ${baselineFds}; seeds ${seed0}..${seed0 + round - 1}`,
    );
    assert.ok(total >= Math.min(target, 1) || minutes > 0);
  });

  it('closes only the client whose stream breaks framing, after answering what came before', async () => {
    const breakers: { name: string; send: (c: ReturnType<RunningDaemon['connect']>) => void }[] = [
      { name: 'size below the header', send: (c) => c.sendRaw(rawHeader(8)) },
      { name: 'size above the limit', send: (c) => c.sendRaw(rawHeader(0x7fffffff)) },
      {
        name: '17 fds on one message',
        send: (c) =>
          c.sendRaw(
            encodeMessage({ id: 0x7777, command: Command.DEVICE_SET_IRQS, flags: 0, error: 0 }, Buffer.alloc(20)),
            Array(17).fill(pool.ev[0]),
          ),
      },
      { name: 'hang-up inside a message', send: (c) => (c.sendRaw(rawHeader(4096).subarray(0, 16)), c.close()) },
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.array(validMsg, { minLength: 0, maxLength: 40 }),
        fc.integer({ min: 0, max: breakers.length - 1 }),
        async (msgs, which) => {
          const c = await d.connectNegotiated();
          await runSequence(c, pool, msgs);
          breakers[which]!.send(c);
          await c.waitClosed();
          c.close();
          await settled(d, baselineFds);
          await freshClientWorks();
        },
      ),
      { seed: seed0, numRuns: 40 },
    );
    await settled(d, baselineFds);
  });
});

function rawHeader(size: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt16LE(0x4242, 0);
  b.writeUInt16LE(Command.DEVICE_GET_INFO, 2);
  b.writeUInt32LE(size, 4);
  b.writeUInt32LE(MsgFlag.TYPE_COMMAND, 8);
  return b;
}
