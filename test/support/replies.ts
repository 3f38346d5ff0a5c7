// Assertions on vfio-user replies shared by the per-message tests.
import assert from 'node:assert/strict';
import { MsgFlag, type Reply } from 'vfio-user-ts';

/** An error reply: header only, the given errno, no fds (as QEMU builds them). */
export function assertErrorReply(r: Reply, errno: number): void {
  assert.equal(r.header.flags, MsgFlag.TYPE_REPLY | MsgFlag.ERROR);
  assert.equal(r.header.error, errno, `errno ${r.header.error}, expected ${errno}`);
  assert.equal(r.header.size, 16, 'error replies are header-only');
  assert.equal(r.fds.length, 0);
}
