// Display mode lists: "WxH@Hz[,WxH@Hz...]" as QEMU's apple-gfx display-modes,
// and the one check every mode list passes, wherever it comes from (the
// command line, `display add`, `display modes`, a restored state).
import { DeviceError } from '../device-error.js';
import type { DisplayModeSpec } from '../native.js';

export const MAX_MODES = 128;
const MAX_SIDE = 65535;
const MAX_REFRESH_HZ = 1000;
/**
 * Frame memory one display may need: its largest mode at 4 bytes a pixel
 * (8192x8192 fits; 65535x65535 would be 16 GiB). The backend allocates a
 * frame of the current mode and the guest may switch to any listed mode.
 */
export const MAX_FRAME_BYTES_PER_DISPLAY = 256 << 20;
/** Frame memory of all displays together (each counted at its largest mode); also what bounds a saved state. */
export const MAX_FRAME_BYTES = 512 << 20;

/** QEMU apple-gfx's default mode list. */
export const DEFAULT_MODES: DisplayModeSpec[] = [
  { width: 1920, height: 1080, refreshHz: 60 },
  { width: 1440, height: 1080, refreshHz: 60 },
  { width: 1280, height: 1024, refreshHz: 60 },
];

export const formatMode = (m: DisplayModeSpec): string => `${m.width}x${m.height}@${m.refreshHz}`;

const MiB = (n: number): string => `${Math.ceil(n / 2 ** 20)} MiB`;
const isDim = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= MAX_SIDE;

/**
 * The one check of a display's mode list: 1..MAX_MODES modes, each
 * 1..65535 x 1..65535 whole pixels at a finite rate in (0, 1000] Hz, and a
 * frame of at most MAX_FRAME_BYTES_PER_DISPLAY. Throws DeviceError('bad-mode').
 */
export function checkModes(
  list: readonly { width?: unknown; height?: unknown; refreshHz?: unknown }[] | null | undefined,
): DisplayModeSpec[] {
  if (!list || list.length === 0) throw new DeviceError('bad-mode', 'a display needs at least one mode');
  if (list.length > MAX_MODES) throw new DeviceError('bad-mode', `${list.length} modes; at most ${MAX_MODES} per display`);
  return list.map((m, i) => {
    const { width, height, refreshHz } = m;
    if (!isDim(width) || !isDim(height))
      throw new DeviceError('bad-mode', `mode ${i}: ${String(width)}x${String(height)} is outside 1..${MAX_SIDE} x 1..${MAX_SIDE}`);
    if (!(typeof refreshHz === 'number' && refreshHz > 0 && refreshHz <= MAX_REFRESH_HZ))
      throw new DeviceError('bad-mode', `mode ${i}: refresh rate ${String(refreshHz)} Hz outside (0, ${MAX_REFRESH_HZ}]`);
    const bytes = width * height * 4;
    if (bytes > MAX_FRAME_BYTES_PER_DISPLAY)
      throw new DeviceError(
        'bad-mode',
        `mode ${i}: ${width}x${height} needs ${MiB(bytes)} of frame memory; at most ${MiB(MAX_FRAME_BYTES_PER_DISPLAY)} a display`,
      );
    return { width, height, refreshHz };
  });
}

/** Frame memory a display with these modes may need: its largest mode. */
export const frameBytes = (modes: readonly DisplayModeSpec[]): number => modes.reduce((n, m) => Math.max(n, m.width * m.height * 4), 0);

/** Checks that displays with these mode lists fit MAX_FRAME_BYTES together. Throws DeviceError('bad-mode'). */
export function checkFrameBudget(lists: Iterable<readonly DisplayModeSpec[]>): void {
  let total = 0;
  for (const l of lists) total += frameBytes(l);
  if (total > MAX_FRAME_BYTES)
    throw new DeviceError('bad-mode', `the displays would need ${MiB(total)} of frame memory together; at most ${MiB(MAX_FRAME_BYTES)}`);
}

export function parseModeList(text: string): DisplayModeSpec[] {
  const items = text.split(',').map((s) => s.trim());
  if (items.some((s) => s === '')) throw new DeviceError('bad-mode', `empty mode in '${text}'`);
  if (items.length > MAX_MODES) throw new DeviceError('bad-mode', `${items.length} modes; at most ${MAX_MODES} per display`);
  const modes = items.map((item) => {
    const m = /^(\d{1,5})x(\d{1,5})@(\d{1,4}(?:\.\d{1,3})?)$/.exec(item);
    if (!m) throw new DeviceError('bad-mode', `mode '${item}' is not <width>x<height>@<rate>`);
    return { width: Number(m[1]), height: Number(m[2]), refreshHz: Number(m[3]) };
  });
  try {
    return checkModes(modes);
  } catch (e) {
    // Name the mode as it was written: "mode '70000x10@60': ..." rather than "mode 0: ...".
    const i = Number(/^mode (\d+):/.exec((e as Error).message)?.[1] ?? -1);
    if (i < 0) throw e;
    throw new DeviceError('bad-mode', `mode '${items[i]}': ${(e as Error).message.replace(/^mode \d+: /, '')}`);
  }
}
