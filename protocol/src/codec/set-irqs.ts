// DEVICE_SET_IRQS (8): argsz, flags, index, start, count, then DATA_BOOL bytes.
import { IrqSetFlag } from '../constants.js';
import { invalid } from '../errors.js';

export interface SetIrqsRequest {
  argsz: number;
  flags: number;
  index: number;
  start: number;
  count: number;
  data: Buffer;
}
export const SET_IRQS_SIZE = 20;

const oneBit = (v: number): boolean => v !== 0 && (v & (v - 1)) === 0;

export function decodeSetIrqs(p: Buffer): SetIrqsRequest {
  if (p.length < SET_IRQS_SIZE) throw invalid(`DEVICE_SET_IRQS payload is ${p.length} bytes; ${SET_IRQS_SIZE} needed`);
  const r = {
    argsz: p.readUInt32LE(0),
    flags: p.readUInt32LE(4),
    index: p.readUInt32LE(8),
    start: p.readUInt32LE(12),
    count: p.readUInt32LE(16),
    data: p.subarray(SET_IRQS_SIZE),
  };
  if (r.argsz < SET_IRQS_SIZE) throw invalid(`DEVICE_SET_IRQS argsz ${r.argsz} < ${SET_IRQS_SIZE}`);
  const known = IrqSetFlag.DATA_MASK | IrqSetFlag.ACTION_MASK_ALL;
  if (r.flags & ~known) throw invalid(`DEVICE_SET_IRQS flags 0x${r.flags.toString(16)} has unknown bits`);
  if (!oneBit(r.flags & IrqSetFlag.DATA_MASK)) throw invalid('DEVICE_SET_IRQS needs exactly one DATA_ type');
  if (!oneBit(r.flags & IrqSetFlag.ACTION_MASK_ALL)) throw invalid('DEVICE_SET_IRQS needs exactly one ACTION_');
  if (r.start + r.count > 0xffffffff) throw invalid('DEVICE_SET_IRQS start + count overflows');
  const expect = r.flags & IrqSetFlag.DATA_BOOL ? r.count : 0;
  if (r.data.length !== expect) throw invalid(`DEVICE_SET_IRQS carries ${r.data.length} data bytes; ${expect} expected for these flags`);
  return r;
}

export function encodeSetIrqs(r: Omit<SetIrqsRequest, 'argsz' | 'data'> & { argsz?: number; data?: Buffer }): Buffer {
  const data = r.data ?? Buffer.alloc(0);
  const p = Buffer.alloc(SET_IRQS_SIZE + data.length);
  p.writeUInt32LE(r.argsz ?? SET_IRQS_SIZE + data.length, 0);
  p.writeUInt32LE(r.flags, 4);
  p.writeUInt32LE(r.index, 8);
  p.writeUInt32LE(r.start, 12);
  p.writeUInt32LE(r.count, 16);
  data.copy(p, SET_IRQS_SIZE);
  return p;
}
