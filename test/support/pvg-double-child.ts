// Child process for test/integration/pvg-double.test.ts: loads the pvg
// backend on the PVG double in-process (native.Backend('lib', ...)), runs a
// little guest work, destroys the backend and lives on, so that what PVG
// does after the client's last release (late teardown, Metal completions
// after a stall) happens while the process still runs. Prints "survived".
// Usage: node pvg-double-child.js <library> <wait-ms>
import { writeSync } from 'node:fs';
import { native } from '#daemon/native.js';

const [lib, waitMs] = [process.argv[2]!, Number(process.argv[3] ?? 500)];
const RAM = 0x40000000n;
const RAM_SIZE = 4 << 20;
const fd = native.memfdCreate('pvg-double-child', RAM_SIZE);
native.gmMap(RAM, BigInt(RAM_SIZE), fd, 0n, true);
const b = new native.Backend('lib', lib, { variant: 0, displayPorts: 1, memoryModel: 0 }, () => {});
b.attachDisplay(0, 1, 'child', [{ width: 32, height: 24, refreshHz: 60 }]);

let tail = 0;
function run(op: number, args: bigint[]): void {
  const e = Buffer.alloc(64);
  e.writeUInt32LE(op, 0);
  e.writeUInt32LE(0xffffffff, 8);
  args.forEach((a, i) => e.writeBigUInt64LE(a, 16 + i * 8));
  writeSync(fd, e, 0, 64, (tail % 16) * 64);
  tail++;
  b.mmioWrite(0, 0x1030, tail);
  b.mmioWrite(0, 0x1034, 1);
}
b.mmioWrite(0, 0x1020, Number(RAM & 0xffffffffn));
b.mmioWrite(0, 0x1024, 0);
b.mmioWrite(0, 0x1028, 16);
const list = Buffer.alloc(16);
list.writeBigUInt64LE(RAM + 0x100000n, 0);
list.writeBigUInt64LE(0x10000n, 8);
writeSync(fd, list, 0, 16, 0x10000);
run(1, [1n, 0x10000n]); // TASK_CREATE
run(3, [1n, 0n, RAM + 0x10000n, 1n, 0n]); // TASK_MAP
run(6, [0n, 32n, 24n]); // SET_MODE
run(7, [0n, 1n, 0n, 128n, 0n]); // PRESENT: a render goes in flight
b.destroy();
native.gmUnmapAll();
setTimeout(() => console.log('survived'), waitMs);
