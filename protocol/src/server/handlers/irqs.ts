import { Errno, IrqInfoFlag, IrqSetFlag as F } from '../../constants.js';
import { decodeSetIrqs } from '../../codec/set-irqs.js';
import type { IrqRequest } from '../../device.js';
import { VfioUserError, invalid } from '../../errors.js';
import type { Handler } from '../handler.js';

export const setIrqs: Handler = {
  acceptsFds: true,
  handle(ctx, h, payload, fds) {
    const r = decodeSetIrqs(payload);
    const { numIrqs } = ctx.device.info();
    if (r.index >= numIrqs) throw invalid(`IRQ index ${r.index} >= ${numIrqs}`);
    const irq = ctx.device.irqInfo(r.index);
    const data = r.flags & F.DATA_MASK;
    const action = r.flags & F.ACTION_MASK_ALL;
    ctx.log.debug(
      { index: r.index, flags: `0x${r.flags.toString(16)}`, start: r.start, count: r.count, fds: fds.length },
      'vfio_user_set_irqs',
    );
    if (data !== F.DATA_EVENTFD && fds.length > 0) throw invalid(`DEVICE_SET_IRQS without DATA_EVENTFD carries ${fds.length} fds`);

    let req: IrqRequest;
    if (data === F.DATA_NONE && action === F.ACTION_TRIGGER && r.count === 0) {
      if (r.start !== 0) throw invalid('DEVICE_SET_IRQS disable (count 0) needs start 0');
      req = { kind: 'disable', index: r.index };
    } else {
      if (r.count === 0) throw invalid('DEVICE_SET_IRQS with count 0 is only valid as NONE|TRIGGER (disable)');
      if (r.start + r.count > irq.count)
        throw invalid(`DEVICE_SET_IRQS vectors [${r.start}, ${r.start + r.count}) outside the ${irq.count} of index ${r.index}`);
      if (data === F.DATA_EVENTFD) {
        if (!(irq.flags & IrqInfoFlag.EVENTFD)) throw invalid(`IRQ index ${r.index} does not take eventfds`);
        if (action !== F.ACTION_TRIGGER) {
          // Without fds this de-assigns mask/unmask notifiers (spec): there are
          // none to drop. Assigning them is not supported.
          if (fds.length > 0) throw new VfioUserError(Errno.ENOTSUP, 'mask/unmask notification eventfds are not supported');
          ctx.log.debug({ index: r.index, start: r.start, count: r.count }, 'vfio_user_irq_notifier_deassign');
          return undefined;
        }
        if (fds.length === 0) req = { kind: 'deassign', index: r.index, start: r.start, count: r.count };
        else if (fds.length === r.count) req = { kind: 'assign', index: r.index, start: r.start, fds: fds.all() };
        else throw invalid(`DEVICE_SET_IRQS count ${r.count} but ${fds.length} fds`);
      } else if (action === F.ACTION_TRIGGER) {
        const bools = data === F.DATA_BOOL ? [...r.data].map((b) => b !== 0) : null;
        req = { kind: 'trigger', index: r.index, start: r.start, count: r.count, bools };
      } else {
        req = { kind: action === F.ACTION_MASK ? 'mask' : 'unmask', index: r.index, start: r.start, count: r.count };
      }
    }
    ctx.device.setIrqs(req);
    if (req.kind === 'assign') fds.releaseAll();
    return undefined;
  },
};
