// Display mode lists: "WxH@Hz[,WxH@Hz...]" as QEMU's apple-gfx display-modes.
import type { DisplayModeSpec } from '../native.js';

export const MAX_MODES = 128;
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

export function parseModeList(text: string): DisplayModeSpec[] {
  const items = text.split(',').map((s) => s.trim());
  if (items.length === 0 || items.some((s) => s === '')) throw new Error(`empty mode in '${text}'`);
  if (items.length > MAX_MODES) throw new Error(`${items.length} modes; at most ${MAX_MODES} per display`);
  return items.map((item) => {
    const m = /^(\d{1,5})x(\d{1,5})@(\d{1,4}(?:\.\d{1,3})?)$/.exec(item);
    if (!m) throw new Error(`mode '${item}' is not <width>x<height>@<rate>`);
    const [width, height, refreshHz] = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (width < 1 || width > 65535 || height < 1 || height > 65535)
      throw new Error(`mode '${item}': width and height must be 1..65535`);
    if (refreshHz <= 0 || refreshHz > 1000) throw new Error(`mode '${item}': refresh rate must be in (0, 1000] Hz`);
    return { width, height, refreshHz };
  });
}

export const formatMode = (m: DisplayModeSpec): string => `${m.width}x${m.height}@${m.refreshHz}`;
