// VERSION (1): request and reply share the layout: major u16, minor u16,
// then optional NUL-terminated JSON `{"capabilities": {...}}`.
import { Limits } from '../constants.js';
import { invalid } from '../errors.js';

export interface Capabilities {
  /** The most fds the sender of these capabilities can receive per message. */
  maxMsgFds?: number;
  maxDataXferSize?: number;
  maxDmaMaps?: number;
  pgsizes?: number;
  writeMultiple?: boolean;
  migration?: { pgsize: number; maxBitmapSize: number };
}

export interface VersionMessage {
  major: number;
  minor: number;
  caps: Capabilities;
  /** Keys we did not recognise (logged, not fatal: the spec allows extensions). */
  unknownKeys: string[];
}

function wholeNumber(v: unknown, key: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw invalid(`capability ${key} must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
  return v;
}

export function decodeVersion(payload: Buffer): VersionMessage {
  if (payload.length < 4) throw invalid(`VERSION payload of ${payload.length} bytes; at least 4 needed`);
  const major = payload.readUInt16LE(0);
  const minor = payload.readUInt16LE(2);
  const out: VersionMessage = { major, minor, caps: {}, unknownKeys: [] };
  if (payload.length === 4) return out;
  if (payload[payload.length - 1] !== 0) throw invalid('VERSION capabilities JSON is not NUL-terminated');
  const text = payload.subarray(4, payload.length - 1).toString('utf8');
  if (text.includes('\0')) throw invalid('VERSION capabilities JSON contains a NUL byte');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw invalid(`VERSION capabilities are not valid JSON: ${(e as Error).message}`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw invalid('VERSION JSON must be an object');
  const top = json as Record<string, unknown>;
  for (const k of Object.keys(top)) if (k !== 'capabilities') out.unknownKeys.push(k);
  if (top.capabilities === undefined) return out;
  const c = top.capabilities;
  if (c === null || typeof c !== 'object' || Array.isArray(c)) throw invalid('VERSION "capabilities" must be an object');
  for (const [key, v] of Object.entries(c as Record<string, unknown>)) {
    switch (key) {
      case 'max_msg_fds':
        out.caps.maxMsgFds = wholeNumber(v, key, 0, 1 << 16);
        break;
      case 'max_data_xfer_size':
        out.caps.maxDataXferSize = wholeNumber(v, key, 1, 2 ** 32 - 1);
        break;
      case 'max_dma_maps':
        out.caps.maxDmaMaps = wholeNumber(v, key, 1, 2 ** 32 - 1);
        break;
      case 'pgsizes': {
        const p = wholeNumber(v, key, 1, Number.MAX_SAFE_INTEGER);
        if (p % 4096 !== 0) throw invalid(`capability pgsizes ${p} has page sizes below 4 KiB`);
        out.caps.pgsizes = p;
        break;
      }
      case 'write_multiple':
        if (typeof v !== 'boolean') throw invalid('capability write_multiple must be a boolean');
        out.caps.writeMultiple = v;
        break;
      case 'migration': {
        if (v === null || typeof v !== 'object' || Array.isArray(v)) throw invalid('capability migration must be an object');
        const m = v as Record<string, unknown>;
        out.caps.migration = {
          pgsize: m.pgsize === undefined ? 4096 : wholeNumber(m.pgsize, 'migration.pgsize', 1, 2 ** 32),
          maxBitmapSize:
            m.max_bitmap_size === undefined
              ? 256 << 20
              : wholeNumber(m.max_bitmap_size, 'migration.max_bitmap_size', 1, Number.MAX_SAFE_INTEGER),
        };
        break;
      }
      default:
        out.unknownKeys.push(`capabilities.${key}`);
    }
  }
  return out;
}

export function encodeVersion(major: number, minor: number, caps?: Capabilities): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt16LE(major, 0);
  head.writeUInt16LE(minor, 2);
  if (!caps) return head;
  const c: Record<string, unknown> = {};
  if (caps.maxMsgFds !== undefined) c.max_msg_fds = caps.maxMsgFds;
  if (caps.maxDataXferSize !== undefined) c.max_data_xfer_size = caps.maxDataXferSize;
  if (caps.maxDmaMaps !== undefined) c.max_dma_maps = caps.maxDmaMaps;
  if (caps.pgsizes !== undefined) c.pgsizes = caps.pgsizes;
  if (caps.writeMultiple !== undefined) c.write_multiple = caps.writeMultiple;
  if (caps.migration) c.migration = { pgsize: caps.migration.pgsize, max_bitmap_size: caps.migration.maxBitmapSize };
  return Buffer.concat([head, Buffer.from(JSON.stringify({ capabilities: c }) + '\0', 'utf8')]);
}

/** The server's answer: a subset of the client's offer, never larger than QEMU can receive (docs/design.md P1). */
export function negotiate(
  client: Capabilities,
  server: Required<Pick<Capabilities, 'maxMsgFds' | 'maxDataXferSize' | 'maxDmaMaps' | 'pgsizes'>> & {
    writeMultiple: boolean;
  },
): Capabilities {
  const reply: Capabilities = {
    maxMsgFds: Math.min(server.maxMsgFds, Limits.MAX_MAX_FDS),
    maxDataXferSize: Math.min(server.maxDataXferSize, client.maxDataXferSize ?? Limits.DEFAULT_MAX_DATA_XFER),
    maxDmaMaps: Math.min(server.maxDmaMaps, client.maxDmaMaps ?? Limits.DEFAULT_MAX_DMA_MAPS),
    pgsizes: server.pgsizes,
  };
  if (server.writeMultiple && client.writeMultiple) reply.writeMultiple = true;
  return reply;
}
