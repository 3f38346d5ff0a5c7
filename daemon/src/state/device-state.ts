// Saving and restoring the whole device (control API `save`/`restore`,
// vfio-user migration). The daemon writes what is its own (configuration
// space, displays and their modes, the guest memory it expects shared) and
// the backend's state as the backend gave it: an opaque blob, the same way
// for every backend (device-state.proto).
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { DeviceError } from '../device-error.js';
import type { AppleGfxPciDevice } from '../device/apple-gfx-pci.js';
import { deviceOps } from '../device/device-ops.js';
import type { Displays } from '../display/displays.js';
import type { DeviceState } from './device-state-types.js';
import { applyDisplays, checkRestoreDisplays, type WantedDisplay } from './restore-check.js';

export const DEVICE_STATE_VERSION = 2;

/** The schema, from device-state.proto next to this module (the build copies it into dist/). */
export const DeviceStateType = protobuf
  .loadSync(fileURLToPath(new URL('device-state.proto', import.meta.url)))
  .lookupType('apple_gfxd.state.v1.DeviceState');

/** Decoded with 64-bit integers as decimal strings (guest addresses need all 64 bits). */
export function decodeDeviceState(bytes: Buffer): DeviceState {
  return DeviceStateType.toObject(DeviceStateType.decode(bytes), {
    longs: String,
    enums: String,
    bytes: Buffer,
    defaults: true,
    oneofs: true,
    arrays: true,
  }) as DeviceState;
}

export interface StateParts {
  device: AppleGfxPciDevice;
  displays: Displays;
  backendName: string;
  memoryModel: string;
}

/**
 * The device's state now. The backend's part is saved off the JS thread
 * (saveStateAsync); callers run this as, or inside, a DeviceOps operation.
 */
export async function saveDeviceState(p: StateParts): Promise<Buffer> {
  const data = await p.device.backend.saveStateAsync();
  if (!data) throw new DeviceError('unsupported', `backend '${p.backendName}' cannot save its state`);
  const state: DeviceState = {
    schemaVersion: DEVICE_STATE_VERSION,
    variant: p.device.variant,
    memoryModel: p.memoryModel,
    configSpace: p.device.config.read(0, 256),
    displays: p.displays
      .list()
      .map((d) => ({ port: d.port, serial: d.serial, name: d.name, modes: d.modes, width: d.width, height: d.height })),
    guestMemory: p.device.memory.regions().map((r) => ({ gpa: r.gpa.toString(), size: r.size.toString() })),
    vectors: p.device.interrupts
      .stats()
      .map((v) => ({ vector: v.vector, raised: String(v.raised), delivered: String(v.delivered), dropped: String(v.dropped) })),
    savedAtUnix: Date.now() / 1000,
    backend: { name: p.backendName, data },
  };
  return Buffer.from(DeviceStateType.encode(DeviceStateType.fromObject(state)).finish());
}

/**
 * Restores (a device operation: one at a time with resets, saves and a
 * client's messages), then waits (bounded) until the backend's display
 * events for the restored modes have reached the daemon, so whoever asked
 * sees the result. The wait is outside the operation.
 */
export async function restoreDeviceStateSettled(p: StateParts, bytes: Buffer): Promise<void> {
  const prepared = prepareRestore(p, bytes);
  // The checks copy a big state's frames: a turn before the backend's part
  // lets viewers and control through.
  await new Promise((r) => setImmediate(r));
  const outcome: { expected: { port: number; width: number; height: number }[]; error?: unknown } = await deviceOps(p.device.backend).run(
    'restore',
    async () => {
      const was = p.displays.list().map((d) => ({ port: d.port, width: d.width, height: d.height }));
      // The backend's part is opaque here and checked by the backend only as
      // it applies it: what it holds now is kept to put back if it refuses.
      let before: Buffer | null;
      try {
        before = await p.device.backend.saveStateAsync();
      } catch (e) {
        throw new DeviceError(
          'invalid',
          `cannot restore: backend '${p.backendName}' could not save the state it has now, to put it back should it refuse the new one ` +
            `(${(e as Error).message}; its reason is in the apple_gfx_guest_error log line; pvg saves a stopped device only)`,
        );
      }
      try {
        return { expected: await applyRestore(p, prepared, before) };
      } catch (error) {
        return { expected: was, error }; // refused and put back: answer once the displays are as they were
      }
    },
  );
  await settled(p, outcome.expected);
  if (outcome.error) throw outcome.error;
}

/** Waits (at most a second) until the displays report these sizes. */
async function settled(p: StateParts, expected: { port: number; width: number; height: number }[]): Promise<void> {
  const deadline = Date.now() + 1000;
  const pending = (): boolean =>
    expected.some((e) => {
      const d = p.displays.get(e.port);
      return d && (d.width !== e.width || d.height !== e.height);
    });
  while (Date.now() < deadline && pending()) await new Promise((r) => setTimeout(r, 5));
}

/** Returns the display sizes the backend will report for the restored state. */
export async function restoreDeviceState(p: StateParts, bytes: Buffer): Promise<{ port: number; width: number; height: number }[]> {
  const prepared = prepareRestore(p, bytes);
  return applyRestore(p, prepared, await p.device.backend.saveStateAsync());
}

interface PreparedRestore {
  s: DeviceState & { backend: NonNullable<DeviceState['backend']> };
  wanted: WantedDisplay[];
}

/** Decodes and checks a state whole; changes nothing. Throws DeviceError. */
function prepareRestore(p: StateParts, bytes: Buffer): PreparedRestore {
  let s: DeviceState;
  try {
    s = decodeDeviceState(bytes);
  } catch (e) {
    throw new DeviceError('invalid', `not a device state: ${(e as Error).message}`);
  }
  if (s.schemaVersion !== DEVICE_STATE_VERSION)
    throw new DeviceError('version-mismatch', `device state version ${s.schemaVersion}; this daemon reads ${DEVICE_STATE_VERSION}`);
  if (s.variant !== p.device.variant)
    throw new DeviceError('wrong-variant', `state saved from the ${s.variant} variant; this device is ${p.device.variant}`);
  if (!s.backend || s.backend.data.length === 0) throw new DeviceError('invalid', 'the state has no backend state');
  if (s.backend.name !== p.backendName)
    throw new DeviceError('invalid', `state saved by the ${s.backend.name} backend; this daemon runs ${p.backendName}`);
  if (s.configSpace.length !== 256) throw new DeviceError('invalid', 'configuration space of the wrong size');
  const shared = p.device.memory.regions();
  for (const r of s.guestMemory)
    if (!shared.some((m) => m.gpa === BigInt(r.gpa) && m.size === BigInt(r.size)))
      throw new DeviceError(
        'invalid',
        `guest memory 0x${BigInt(r.gpa).toString(16)}+0x${BigInt(r.size).toString(16)} of the saved device is not shared with this daemon (the VMM must map guest RAM first)`,
      );
  // Everything is checked before anything changes (restore-check.ts).
  const wanted = checkRestoreDisplays(p.displays, s);
  return { s: s as PreparedRestore['s'], wanted };
}

/** Applies a checked state; `before` (the backend's state now) is put back if the backend refuses. */
async function applyRestore(
  p: StateParts,
  { s, wanted }: PreparedRestore,
  before: Buffer | null,
): Promise<{ port: number; width: number; height: number }[]> {
  // Displays are the daemon's: make the set match the saved one first, so the
  // backend finds each display it restores; put back if the backend refuses.
  const undo = applyDisplays(p.displays, wanted);
  try {
    await p.device.backend.restoreStateAsync(s.backend.data);
  } catch (e) {
    undo();
    if (before) await p.device.backend.restoreStateAsync(before); // onto the displays it was saved with
    throw new DeviceError('invalid', (e as Error).message);
  }
  p.device.config.load(s.configSpace);
  // The mode each display was in, where it is one of its modes (a backend
  // reports only a mode from the list).
  return s.displays
    .filter((d) => d.width > 0 && d.modes.some((m) => m.width === d.width && m.height === d.height))
    .map((d) => ({ port: d.port, width: d.width, height: d.height }));
}
