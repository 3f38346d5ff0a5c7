// Display mode lists: "WxH@Hz[,WxH@Hz...]" as QEMU's apple-gfx display-modes,
// and the one check every mode list passes (command line, ctl, control API).
import { DeviceError } from '../device-error.js';
import type { DisplayModeSpec } from '../native.js';

export const MAX_MODES = 128;
const MAX_SIDE = 65535;
const MAX_REFRESH_HZ = 1000;

/** QEMU apple-gfx's default mode list. */
export const DEFAULT_MODES: DisplayModeSpec[] = [
  { width: 1920, height: 1080, refreshHz: 60 },
  { width: 1440, height: 1080, refreshHz: 60 },
  { width: 1280, height: 1024, refreshHz: 60 },
];

export const formatMode = (m: DisplayModeSpec): string => `${m.width}x${m.height}@${m.refreshHz}`;

/** A mode list a display can take: 1..MAX_MODES modes, each 1..65535 x 1..65535 @ (0, 1000] Hz. */
export function checkModes(modes: readonly DisplayModeSpec[]): DisplayModeSpec[] {
  if (modes.length === 0) throw new DeviceError('bad-mode', 'a display needs at least one mode');
  if (modes.length > MAX_MODES) throw new DeviceError('bad-mode', `${modes.length} modes; at most ${MAX_MODES} per display`);
  return modes.map(({ width, height, refreshHz }, i) => {
    const what = `mode ${i} (${width}x${height}@${refreshHz})`;
    if (!(Number.isInteger(width) && Number.isInteger(height) && width >= 1 && width <= MAX_SIDE && height >= 1 && height <= MAX_SIDE))
      throw new DeviceError('bad-mode', `${what}: width and height must be 1..${MAX_SIDE}`);
    if (!(refreshHz > 0 && refreshHz <= MAX_REFRESH_HZ)) throw new DeviceError('bad-mode', `${what}: refresh rate must be in (0, ${MAX_REFRESH_HZ}] Hz`);
    return { width, height, refreshHz };
  });
}

export function parseModeList(text: string): DisplayModeSpec[] {
  const items = text.split(',').map((s) => s.trim());
  if (items.some((s) => s === '')) throw new DeviceError('bad-mode', `empty mode in '${text}'`);
  return checkModes(
    items.map((item) => {
      const m = /^(\d{1,5})x(\d{1,5})@(\d{1,4}(?:\.\d{1,3})?)$/.exec(item);
      if (!m) throw new DeviceError('bad-mode', `mode '${item}' is not <width>x<height>@<rate>`);
      return { width: Number(m[1]), height: Number(m[2]), refreshHz: Number(m[3]) };
    }),
  );
}
