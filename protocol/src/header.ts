import { HEADER_SIZE, MsgFlag } from './constants.js';

export interface Header {
  id: number;
  command: number;
  size: number;
  flags: number;
  error: number;
}

export function decodeHeader(buf: Buffer): Header {
  return {
    id: buf.readUInt16LE(0),
    command: buf.readUInt16LE(2),
    size: buf.readUInt32LE(4),
    flags: buf.readUInt32LE(8),
    error: buf.readUInt32LE(12),
  };
}

/** Builds a whole message: header followed by payload, in one buffer (sent atomically). */
export function encodeMessage(h: Omit<Header, 'size'>, payload?: Buffer): Buffer {
  const len = HEADER_SIZE + (payload?.length ?? 0);
  const buf = Buffer.allocUnsafe(len);
  buf.writeUInt16LE(h.id & 0xffff, 0);
  buf.writeUInt16LE(h.command & 0xffff, 2);
  buf.writeUInt32LE(len, 4);
  buf.writeUInt32LE(h.flags >>> 0, 8);
  buf.writeUInt32LE(h.error >>> 0, 12);
  if (payload) payload.copy(buf, HEADER_SIZE);
  return buf;
}

export const isReply = (h: Header): boolean => (h.flags & MsgFlag.TYPE_MASK) === MsgFlag.TYPE_REPLY;
export const wantsReply = (h: Header): boolean => (h.flags & MsgFlag.NO_REPLY) === 0;
