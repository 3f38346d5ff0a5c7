// RFB 3.8 (RFC 6143) constants and small message builders shared by the
// server and the test/benchmark client.

export const PROTOCOL_VERSION = 'RFB 003.008\n';

export const Security = { INVALID: 0, NONE: 1, VNC_AUTH: 2 } as const;

export const ClientMsg = {
  SET_PIXEL_FORMAT: 0,
  SET_ENCODINGS: 2,
  FRAMEBUFFER_UPDATE_REQUEST: 3,
  KEY_EVENT: 4,
  POINTER_EVENT: 5,
  CLIENT_CUT_TEXT: 6,
  ENABLE_CONTINUOUS_UPDATES: 150,
  CLIENT_FENCE: 248,
  SET_DESKTOP_SIZE: 251,
  /** QEMU client message; subtype 0 is the Extended Key Event. */
  QEMU: 255,
} as const;

export const ServerMsg = { FRAMEBUFFER_UPDATE: 0, SET_COLOUR_MAP_ENTRIES: 1, BELL: 2, SERVER_CUT_TEXT: 3 } as const;

export const Encoding = {
  RAW: 0,
  COPY_RECT: 1,
  ZLIB: 6,
  TIGHT: 7,
  ZRLE: 16,
  /** QualityLevel 0..9: -32..-23 (Tight's JPEG quality). */
  QUALITY_LEVEL_0: -32,
  /** CompressLevel 0..9: -256..-247 (zlib level). */
  COMPRESS_LEVEL_0: -256,
  CURSOR: -239,
  DESKTOP_SIZE: -223,
  LAST_RECT: -224,
  QEMU_EXTENDED_KEY_EVENT: -258,
  /** QEMU LED state: never sent (QEMU does not tell the guest's LEDs over QMP; docs/viewers.md). */
  QEMU_LED_STATE: -261,
  DESKTOP_NAME: -307,
  EXTENDED_DESKTOP_SIZE: -308,
  /** Fence and ContinuousUpdates: never announced (docs/viewers.md). */
  FENCE: -312,
  CONTINUOUS_UPDATES: -313,
} as const;

/** Pixel encodings we can send, best first when the client expresses no order. */
export const PIXEL_ENCODINGS: readonly number[] = [Encoding.TIGHT, Encoding.ZRLE, Encoding.ZLIB, Encoding.RAW];

import type { Rect } from '../../display/damage.js';

export type { Rect };

export function rectHeader(x: number, y: number, w: number, h: number, encoding: number): Buffer {
  const b = Buffer.allocUnsafe(12);
  b.writeUInt16BE(x, 0);
  b.writeUInt16BE(y, 2);
  b.writeUInt16BE(w, 4);
  b.writeUInt16BE(h, 6);
  b.writeInt32BE(encoding, 8);
  return b;
}

export function updateHeader(rects: number): Buffer {
  const b = Buffer.alloc(4);
  b[0] = ServerMsg.FRAMEBUFFER_UPDATE;
  b.writeUInt16BE(rects, 2);
  return b;
}

export const u32 = (v: number): Buffer => {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(v >>> 0, 0);
  return b;
};
