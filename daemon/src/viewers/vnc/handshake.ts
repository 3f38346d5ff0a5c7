// The RFB handshake messages (RFC 6143 7.1-7.3): ProtocolVersion,
// security negotiation, SecurityResult and ServerInit.
import { randomBytes } from 'node:crypto';
import { vncAuthResponse } from './des.js';
import { encodePixelFormat, type PixelFormat } from './pixel-format.js';
import { u32 } from './rfb.js';

/** The minor version we speak with a client: 3, 7 or 8; null for a bad version string. */
export function negotiateVersion(text: Buffer): { minor: 3 | 7 | 8; offered: string } | null {
  const m = /^RFB (\d{3})\.(\d{3})\n$/.exec(text.toString('latin1'));
  if (!m) return null;
  const major = Number(m[1]);
  const minor = Number(m[2]);
  const offered = `${major}.${minor}`;
  if (major !== 3 || minor < 3) return null;
  // RFC 6143 7.1.1: unknown 3.4-3.6 are treated as 3.3; anything newer (Apple's 3.889) as 3.8.
  return { minor: minor >= 8 ? 8 : minor === 7 ? 7 : 3, offered };
}

/** 3.7+: the list of security types; 3.3: the server-chosen type as a u32. */
export function securityOffer(minor: number, type: number): Buffer {
  return minor >= 7 ? Buffer.from([1, type]) : u32(type);
}

/** SecurityResult; on failure 3.8 carries a reason string. */
export function securityResult(minor: number, ok: boolean, reason = 'authentication failed'): Buffer {
  if (ok) return u32(0);
  if (minor < 8) return u32(1);
  const text = Buffer.from(reason, 'utf8');
  return Buffer.concat([u32(1), u32(text.length), text]);
}

/** 3.8 reply to a client that picked a type we did not offer. */
export function securityFailure(reason: string): Buffer {
  const text = Buffer.from(reason, 'utf8');
  return Buffer.concat([u32(1), u32(text.length), text]);
}

export function newChallenge(): Buffer {
  return randomBytes(16);
}

export function checkVncAuth(password: string, challenge: Buffer, response: Buffer): boolean {
  const expected = vncAuthResponse(password, challenge);
  let diff = 0;
  for (let i = 0; i < 16; i++) diff |= expected[i]! ^ response[i]!;
  return diff === 0;
}

export function serverInit(width: number, height: number, pf: PixelFormat, name: string): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt16BE(width, 0);
  head.writeUInt16BE(height, 2);
  const text = Buffer.from(name, 'utf8');
  return Buffer.concat([head, encodePixelFormat(pf), u32(text.length), text]);
}
