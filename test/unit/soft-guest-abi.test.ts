// The soft device's guest interface has one definition,
// native/include/agfx_soft.h. The TypeScript helper the tests drive the
// device with (test/support/soft-ring.ts) restates its values for JS; this
// test parses the header and fails when any of them differs, or when one
// side has a register, opcode or status the other lacks.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  DEVICE_ID,
  DISPLAY_IRQ_ENABLE,
  ENTRY_SIZE,
  FNV_BASIS,
  FNV_PRIME,
  IOSFC_BAD_PEEK,
  Iosfc,
  IosfcCmd,
  Op,
  PORT_ATTACHED,
  Reg,
  SOFT_VERSION,
  St,
} from '../support/soft-ring.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const header = readFileSync(join(root, 'native/include/agfx_soft.h'), 'utf8');

/** A C integer literal or `(A << B)`, as a number; undefined for anything else. */
function cValue(text: string): number | undefined {
  const t = text
    .trim()
    .replace(/^\((.*)\)$/, '$1')
    .trim();
  const lit = (s: string): bigint | undefined => {
    const m = /^(0x[0-9a-f]+|\d+)(u|ul|ull|l|ll)?$/i.exec(s.trim());
    return m ? BigInt(m[1]!) : undefined;
  };
  const shift = /^(.+?)<<(.+)$/.exec(t);
  if (shift) {
    const a = lit(shift[1]!),
      b = lit(shift[2]!);
    return a !== undefined && b !== undefined ? Number(a << b) : undefined;
  }
  const v = lit(t);
  return v === undefined ? undefined : Number(v);
}

/** Every AGFX_SOFT_* name the header gives a value: enum members and #defines. */
function headerConstants(): Map<string, number> {
  const out = new Map<string, number>();
  const noComments = header.replace(/\/\*[\s\S]*?\*\//g, '');
  for (const m of noComments.matchAll(/^\s*#define\s+(AGFX_SOFT_\w+)\s+(.+)$/gm)) {
    const v = cValue(m[2]!);
    if (v !== undefined) out.set(m[1]!, v);
  }
  for (const body of noComments.matchAll(/enum\s+\w*\s*\{([^}]*)\}/g))
    for (const m of body[1]!.matchAll(/(AGFX_SOFT_\w+)\s*=\s*([^,]+)/g)) {
      const v = cValue(m[2]!);
      if (v !== undefined) out.set(m[1]!, v);
    }
  return out;
}

const consts = headerConstants();
/** The header's `${prefix}X` constants as {X: value}. */
const group = (prefix: string, except: string[] = []): Record<string, number> =>
  Object.fromEntries(
    [...consts]
      .filter(([k]) => k.startsWith(prefix) && !except.includes(k.slice(prefix.length)))
      .map(([k, v]) => [k.slice(prefix.length), v]),
  );

describe('soft device guest interface: test/support/soft-ring.ts against native/include/agfx_soft.h', () => {
  it('parses the header (registers, opcodes, statuses, limits)', () => {
    assert.equal(consts.get('AGFX_SOFT_REG_DOORBELL'), 0x1034);
    assert.equal(consts.get('AGFX_SOFT_MAX_TASK_SIZE'), 2 ** 30);
    assert.ok(Object.keys(group('AGFX_SOFT_OP_')).length >= 13);
  });

  it("Reg has every register at the header's offset, and no other", () => {
    assert.deepEqual({ ...Reg }, group('AGFX_SOFT_REG_'));
  });

  it("Op has every opcode with the header's value, and no other", () => {
    assert.deepEqual({ ...Op }, group('AGFX_SOFT_OP_'));
  });

  it("St has every command status (and PENDING) with the header's value, and no other", () => {
    assert.deepEqual({ ...St }, group('AGFX_SOFT_ST_', ['COUNT']));
    assert.equal(Object.keys(St).length - 1, consts.get('AGFX_SOFT_ST_COUNT'), 'ST_COUNT counts the statuses');
  });

  it('the entry size and the checksum constants match', () => {
    assert.equal(ENTRY_SIZE, consts.get('AGFX_SOFT_ENTRY_SIZE'));
    assert.equal(FNV_BASIS, consts.get('AGFX_SOFT_FNV_BASIS'));
    assert.equal(FNV_PRIME, consts.get('AGFX_SOFT_FNV_PRIME'));
    assert.equal(DEVICE_ID, consts.get('AGFX_SOFT_ID'));
    assert.equal(SOFT_VERSION, consts.get('AGFX_SOFT_VERSION'));
  });

  it("Iosfc has every IOSFC register at the header's offset, and no other", () => {
    const commands = ['MAP_RO', 'MAP_RW', 'UNMAP'];
    assert.deepEqual({ ...Iosfc }, group('AGFX_SOFT_IOSFC_', [...commands, 'BAD_PEEK']));
    assert.deepEqual({ ...IosfcCmd }, Object.fromEntries(commands.map((c) => [c, consts.get(`AGFX_SOFT_IOSFC_${c}`)])));
    assert.equal(IOSFC_BAD_PEEK, consts.get('AGFX_SOFT_IOSFC_BAD_PEEK'));
  });

  it('the display port register bits match', () => {
    assert.equal(PORT_ATTACHED, consts.get('AGFX_SOFT_PORT_ATTACHED'));
    assert.equal(DISPLAY_IRQ_ENABLE, consts.get('AGFX_SOFT_DISPLAY_IRQ_ENABLE'));
  });
});
