// The data plane answers region accesses in C++ (native/core/dataplane/wire.h)
// with the same wire facts the TypeScript protocol package defines
// (protocol/src/constants.ts): one definition each, checked to agree.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { native } from '#daemon/native.js';
import { Command, Errno, HEADER_SIZE, Limits, MsgFlag } from 'vfio-user-ts';

describe('data-plane wire constants', () => {
  it('match protocol/src/constants.ts', () => {
    const w = native.dataPlaneWire();
    assert.deepEqual(w, {
      headerSize: HEADER_SIZE,
      VERSION: Command.VERSION,
      REGION_READ: Command.REGION_READ,
      REGION_WRITE: Command.REGION_WRITE,
      REGION_WRITE_MULTI: Command.REGION_WRITE_MULTI,
      TYPE_MASK: MsgFlag.TYPE_MASK,
      TYPE_COMMAND: MsgFlag.TYPE_COMMAND,
      TYPE_REPLY: MsgFlag.TYPE_REPLY,
      NO_REPLY: MsgFlag.NO_REPLY,
      ERROR: MsgFlag.ERROR,
      EINVAL: Errno.EINVAL,
      MULTI_MAX: Limits.MULTI_MAX,
      MULTI_DATA: Limits.MULTI_DATA,
    });
  });
});
