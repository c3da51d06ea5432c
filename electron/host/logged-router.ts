// Wraps the router so every operation leaves one structured log line: the channel, the box
// and snapshot it touched (ids from the result when the input named them by name), and
// elapsed_ms. Reads that succeed are not logged: the UI polls them and they would drown
// the operations people look for after something went wrong.
import type { BoxkeepError } from '../../shared/errors.js';
import type { Router } from '../../shared/transport.js';
import { elapsedMs, type LogFields, type Logger } from '../core/logger.js';

const QUIET_READS = /:(list|get|info|last|console|crashPoints)$/;

export function loggedRouter(router: Router, logger: Logger, via: string): Router {
  return {
    on: router.on,
    async openStream(channel, raw) {
      const started = performance.now();
      try {
        const stream = await router.openStream(channel, raw);
        const fields = { ...fieldsOf(channel, raw, null), via };
        logger.info(channel, { ...fields, elapsed_ms: elapsedMs(started) });
        stream.onClose((end) => logger.info(channel + ' ended', { ...fields, reason: end.reason }));
        return stream;
      } catch (err) {
        const e = err as BoxkeepError;
        logger.warn(channel + ' refused', { ...fieldsOf(channel, raw, null), via, elapsed_ms: elapsedMs(started), code: e.code, error: e.message });
        throw err;
      }
    },
    async invoke(channel, raw) {
      const started = performance.now();
      try {
        const value = await router.invoke(channel, raw);
        if (!QUIET_READS.test(channel)) logger.info(channel, { ...fieldsOf(channel, raw, value), via, elapsed_ms: elapsedMs(started) });
        return value;
      } catch (err) {
        // The router rejects with BoxkeepError only: log its code and pass it on untouched.
        const e = err as BoxkeepError;
        const fields = { ...fieldsOf(channel, raw, null), via, elapsed_ms: elapsedMs(started), code: e.code, error: e.message };
        // Refused input is the caller's mistake, not a fault of the app.
        if (e.code === 'Internal' || e.code === 'Storage' || e.code === 'Vm') logger.error(channel + ' failed', fields);
        else logger.warn(channel + ' refused', fields);
        throw err;
      }
    },
  };
}

export function fieldsOf(channel: string, raw: unknown, value: unknown): LogFields {
  const input = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  const out = (value && typeof value === 'object' ? value : {}) as Record<string, unknown>;
  const text = (v: unknown) => (typeof v === 'string' ? v.slice(0, 100) : undefined);
  const fields: LogFields = { op: channel };
  const area = channel.split(':')[0];
  const box = area === 'boxes' ? text(out.id) ?? text(out.removedId) : text(out.boxId) ?? text((out.box as Record<string, unknown> | undefined)?.id);
  const snapshot = area === 'snapshots' ? text(out.id) ?? text((out.snapshot as Record<string, unknown> | undefined)?.id) ?? text(out.removedId) : undefined;
  const boxId = box ?? text(input.box);
  const snapshotId = snapshot ?? text(input.snapshot);
  if (boxId) fields.boxId = boxId;
  if (snapshotId) fields.snapshotId = snapshotId;
  return fields;
}

