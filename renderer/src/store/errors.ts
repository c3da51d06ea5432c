// Whatever a call rejects with (a rebuilt BoxkeepError, a wire object, a dropped connection)
// becomes one BoxkeepError whose message is shown as is: the main process words its messages
// for people, with what to do next.
import { BoxkeepError, isWireError } from '../../../shared/errors.js';

export function asBoxkeepError(err: unknown): BoxkeepError {
  if (err instanceof BoxkeepError) return err;
  if (isWireError(err)) return BoxkeepError.fromWire(err);
  return BoxkeepError.from(err);
}

export function errorText(err: unknown): string {
  const e = asBoxkeepError(err);
  return e.message.trim() || `Something went wrong (${e.code}) and no reason was given.`;
}
