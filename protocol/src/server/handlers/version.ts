import { Errno, Limits } from '../../constants.js';
import { decodeVersion, encodeVersion, negotiate } from '../../codec/version.js';
import { VfioUserError, invalid } from '../../errors.js';
import type { Handler } from '../handler.js';

/** The protocol version this server speaks (QEMU 11 asks for 0.0). */
export const SERVER_MAJOR = 0;
export const SERVER_MINOR = 0;

export const version: Handler = {
  acceptsFds: false,
  handle(ctx, h, payload) {
    if (ctx.negotiated) throw invalid('VERSION was already negotiated on this connection');
    const v = decodeVersion(payload);
    if (v.major !== SERVER_MAJOR)
      throw new VfioUserError(Errno.ENOTSUP, `protocol major ${v.major} is not supported (we speak ${SERVER_MAJOR})`);
    if (v.unknownKeys.length) ctx.log.debug({ keys: v.unknownKeys }, 'vfio_user_version_unknown_caps');
    const caps = negotiate(v.caps, ctx.limits);
    const reply = encodeVersion(SERVER_MAJOR, Math.min(v.minor, SERVER_MINOR), caps);
    // QEMU reads the reply into its 214-byte request buffer (docs/design.md P1).
    if (16 + reply.length > Limits.VERSION_REPLY_MAX) throw new Error("VERSION reply would exceed QEMU's buffer");
    ctx.negotiated = caps;
    ctx.log.info({ major: v.major, minor: v.minor, offer: v.caps, reply: caps }, 'vfio_user_version');
    return reply;
  },
};
