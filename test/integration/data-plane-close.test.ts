// The daemon ending a client (DataPlane.close()) while its data-plane thread
// waits for the client's next message in a blocking recvmsg: close() shuts
// the socket down for reading, so the thread ends at once, whether it was
// already blocked or about to block (docs/design.md, "Threads and locks",
// Ending a client). Driven in-process through the addon, so nothing but
// close() can end the thread: a daemon exiting would close the socket anyway.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { native, type NativeBackend, type NativeDataPlane, type NativeListener } from '#daemon/native.js';

const withTimeout = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
  Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms).unref())]);

// The first 10 bytes of a 32-byte REGION_READ: a valid start, the rest never sent.
function halfMessage(): Buffer {
  const h = Buffer.alloc(10);
  h.writeUInt16LE(1, 0); // id
  h.writeUInt16LE(9, 2); // REGION_READ
  h.writeUInt32LE(32, 4); // size
  return h;
}

describe('data plane: close() while the thread waits for the client', () => {
  const dir = mkdtempSync(join(tmpdir(), 'agfx-dpclose-'));
  const path = join(dir, 'dp.sock');
  let backend: NativeBackend;
  let listener: NativeListener;
  let accepted: ((fd: number) => void) | null = null;
  const pending: number[] = [];

  before(() => {
    backend = new native.Backend('soft', '', { variant: 0, displayPorts: 1 }, () => {});
    const listenFd = native.listenUnix(path, 0o600);
    listener = new native.Listener(listenFd, (fd) => (accepted ? accepted(fd) : pending.push(fd)));
  });
  after(() => {
    listener.close();
    backend.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  const nextFd = (): Promise<number> =>
    pending.length > 0
      ? Promise.resolve(pending.shift()!)
      : new Promise((resolve) => {
          accepted = (fd) => {
            accepted = null;
            resolve(fd);
          };
        });

  async function open(): Promise<{ dp: NativeDataPlane; client: Socket; closed: Promise<string | null> }> {
    const client = connect(path);
    await once(client, 'connect');
    const fd = await nextFd();
    let onClose!: (reason: string | null) => void;
    const closed = new Promise<string | null>((resolve) => (onClose = resolve));
    const dp = new native.DataPlane(
      fd,
      {
        backend,
        stats: new native.DataPlaneStats([10, 100, 1000]),
        numRegions: 9,
        regions: [],
        maxMessageSize: 1 << 20,
        maxFds: 16,
      },
      () => {},
      () => {},
      onClose,
    );
    return { dp, client, closed };
  }

  // 0: at once (the thread may not have reached its read yet); 1: after it
  // has blocked; 2: with half a message read and the rest never coming.
  for (const [name, prepare] of [
    ['at once', async () => {}],
    ['while blocked in recvmsg', () => new Promise((r) => setTimeout(r, 20))],
    ['inside a half-read message', async (c: Socket) => (c.write(halfMessage()), new Promise((r) => setTimeout(r, 20)))],
  ] as [string, (c: Socket) => Promise<unknown>][]) {
    it(`ends the thread and the connection ${name} (20 times)`, async () => {
      for (let i = 0; i < 20; i++) {
        const { dp, client, closed } = await open();
        const ended = once(client, 'close');
        client.resume();
        await prepare(client);
        dp.close();
        assert.equal(await withTimeout(closed, 2000, `iteration ${i}: onClose`), 'closed by the daemon');
        await withTimeout(ended, 2000, `iteration ${i}: the client's end of stream`);
      }
    });
  }
});
