// How big a saved device state can be, and so what the control socket must
// accept: what `save` writes, `restore` accepts (docs/security.md).
import { MAX_FRAME_BYTES } from '../display/modes.js';

/**
 * The largest state `save` writes and `restore` reads: every display's frame
 * (bounded by MAX_FRAME_BYTES) plus the rest, which is small and bounded by
 * the soft device's own limits (4 cursor glyphs of at most 256 KiB, 64 tasks
 * of at most 256 ranges, 65535 IOSFC mappings of 29 bytes: under 4 MiB).
 * A backend whose state is bigger gets TOO_LARGE from `save`.
 */
export const MAX_STATE_BYTES = MAX_FRAME_BYTES + (16 << 20);

/** A control message carrying a state: the state plus the envelope (ids, field tags, lengths). */
export const MAX_CONTROL_MESSAGE_BYTES = MAX_STATE_BYTES + (64 << 10);
