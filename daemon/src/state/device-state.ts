// Saving and restoring the whole device (control API `save`/`restore`).
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { ControlError } from '../control/schema.js';
import type { AppleGfxPciDevice } from '../device/apple-gfx-pci.js';
import type { Displays } from '../display/displays.js';
import { decodeSoftState, encodeSoftState, type SoftState } from './soft-state.js';
import { applyDisplays, checkRestoreDisplays, type WantedDisplay } from './restore-check.js';

export const DEVICE_STATE_VERSION = 1;

function protoPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const c of [join(here, 'device-state.proto'), resolve(here, '../../../../daemon/src/state/device-state.proto')])
    if (existsSync(c)) return c;
  throw new Error('device-state.proto not found');
}
const StateType = protobuf.loadSync(protoPath()).lookupType('apple_gfxd.state.v1.DeviceState');

export interface StateParts {
  device: AppleGfxPciDevice;
  displays: Displays;
  backendName: string;
  memoryModel: string;
}

export function saveDeviceState(p: StateParts): Buffer {
  const blob = p.device.backend.saveState();
  if (!blob) throw new ControlError('UNSUPPORTED', `backend '${p.backendName}' cannot save its state`);
  const msg = StateType.fromObject({
    schemaVersion: DEVICE_STATE_VERSION,
    variant: p.device.variant,
    backend: p.backendName,
    memoryModel: p.memoryModel,
    configSpace: p.device.config.read(0, 256),
    displays: p.displays.list().map((d) => ({ port: d.port, serial: d.serial, name: d.name, modes: d.modes })),
    guestMemory: p.device.memory.regions().map((r) => ({ gpa: r.gpa.toString(), size: r.size.toString() })),
    vectors: p.device.interrupts.stats(),
    // The soft backend's state goes in field by field; others stay opaque.
    ...(p.backendName === 'soft' ? { soft: decodeSoftState(blob) } : { backendState: blob }),
    savedAtUnix: Date.now() / 1000,
  });
  return Buffer.from(StateType.encode(msg).finish());
}

/**
 * Restores, then waits (bounded) until the backend's display events for the
 * restored modes have reached the daemon, so whoever asked sees the result.
 */
export async function restoreDeviceStateSettled(p: StateParts, bytes: Buffer): Promise<void> {
  const prepared = prepareRestore(p, bytes);
  // The checks and the apply each copy a big state's frames: a turn between
  // them lets waiting MMIO through (the worst gap is the longer one, not both).
  await new Promise((r) => setImmediate(r));
  const expected = applyRestore(p, prepared);
  const deadline = Date.now() + 1000;
  while (Date.now() < deadline && expected.some((e) => {
    const d = p.displays.get(e.port);
    return d && (d.width !== e.width || d.height !== e.height);
  }))
    await new Promise((r) => setTimeout(r, 5));
}

/** Returns the display sizes the backend will report for the restored state. */
export function restoreDeviceState(p: StateParts, bytes: Buffer): { port: number; width: number; height: number }[] {
  return applyRestore(p, prepareRestore(p, bytes));
}

interface PreparedRestore {
  s: Record<string, any>;
  wanted: WantedDisplay[];
  blob: Buffer;
}

/** Decodes and checks a state whole; changes nothing. Throws ControlError. */
function prepareRestore(p: StateParts, bytes: Buffer): PreparedRestore {
  let s: Record<string, any>;
  try {
    s = StateType.toObject(StateType.decode(bytes), { longs: String, bytes: Buffer, defaults: true, arrays: true });
  } catch (e) {
    throw new ControlError('BAD_REQUEST', `not a device state: ${(e as Error).message}`);
  }
  if (s.schemaVersion !== DEVICE_STATE_VERSION)
    throw new ControlError('VERSION_MISMATCH', `device state version ${s.schemaVersion}; this daemon reads ${DEVICE_STATE_VERSION}`);
  if (s.variant !== p.device.variant)
    throw new ControlError('WRONG_VARIANT', `state saved from the ${s.variant} variant; this device is ${p.device.variant}`);
  if (s.backend !== p.backendName)
    throw new ControlError('BAD_REQUEST', `state saved by the ${s.backend} backend; this daemon runs ${p.backendName}`);
  if (s.configSpace.length !== 256) throw new ControlError('BAD_REQUEST', 'configuration space of the wrong size');
  const shared = p.device.memory.regions();
  for (const r of s.guestMemory as { gpa: string; size: string }[])
    if (!shared.some((m) => m.gpa === BigInt(r.gpa) && m.size === BigInt(r.size)))
      throw new ControlError('BAD_REQUEST', `guest memory 0x${BigInt(r.gpa).toString(16)}+0x${BigInt(r.size).toString(16)} of the saved device is not shared with this daemon (the VMM must map guest RAM first)`);
  // Everything is checked before anything changes (restore-check.ts).
  const wanted = checkRestoreDisplays(p.displays, s, p.backendName);
  let blob: Buffer = s.backendState;
  if (p.backendName === 'soft') {
    if (!s.soft) throw new ControlError('BAD_REQUEST', 'the state has no soft-device part');
    try {
      blob = encodeSoftState(s.soft as SoftState);
    } catch (e) {
      throw new ControlError('BAD_REQUEST', `soft-device state: ${(e as Error).message}`);
    }
  }
  return { s, wanted, blob };
}

function applyRestore(p: StateParts, { s, wanted, blob }: PreparedRestore): { port: number; width: number; height: number }[] {
  // Displays are the daemon's: make the set match the saved one first, so the
  // backend finds each display it restores; put back if the backend refuses.
  const undo = applyDisplays(p.displays, wanted);
  try {
    p.device.backend.restoreState(blob);
  } catch (e) {
    undo();
    throw new ControlError('BAD_REQUEST', (e as Error).message);
  }
  p.device.config.load(s.configSpace);
  return p.backendName === 'soft' && s.soft
    ? (s.soft.displays as { port: number; attached: boolean; width: number; height: number }[])
        .filter((d) => d.attached && wanted.some((w) => w.port === d.port && w.modes.some((m) => m.width === d.width && m.height === d.height)))
        .map((d) => ({ port: d.port, width: d.width, height: d.height }))
    : [];
}
