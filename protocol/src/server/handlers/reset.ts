import { DeviceFlag, Errno } from '../../constants.js';
import { VfioUserError, invalid } from '../../errors.js';
import { andThen, type Handler } from '../handler.js';

export const deviceReset: Handler = {
  acceptsFds: false,
  handle(ctx, h, payload) {
    if (payload.length !== 0) throw invalid(`DEVICE_RESET carries ${payload.length} payload bytes; none expected`);
    if (!(ctx.device.info().flags & DeviceFlag.RESET)) throw new VfioUserError(Errno.ENOTSUP, 'this device does not advertise reset');
    ctx.log.info({}, 'vfio_user_device_reset');
    return andThen(ctx.device.reset(), () => undefined);
  },
};
