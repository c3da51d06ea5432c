import * as v from 'valibot';
import { channels, isChannel, type Channel, type ChannelInput } from './channels.js';
import { BoxkeepError } from './errors.js';

/**
 * Parses a raw payload for a channel. Every transport calls this before any service sees the
 * input; a failure is InvalidArgument naming the field and the rule it broke.
 */
export function parseInput<C extends Channel>(channel: C, raw: unknown): ChannelInput<C> {
  if (!isChannel(channel)) {
    throw new BoxkeepError('InvalidArgument', `Unknown channel ${JSON.stringify(String(channel)).slice(0, 80)}.`);
  }
  // JSON.parse makes "__proto__" an own key, which an object schema would silently skip.
  if (typeof raw === 'object' && raw !== null && Object.prototype.hasOwnProperty.call(raw, '__proto__')) {
    throw new BoxkeepError('InvalidArgument', `Unknown field "__proto__": it is not part of ${channel}.`);
  }
  const parsed = v.safeParse(channels[channel].input, raw ?? {});
  if (parsed.success) return parsed.output as ChannelInput<C>;
  const problems = parsed.issues.slice(0, 3).map((issue) => {
    const key = v.getDotPath(issue);
    if (issue.kind === 'schema' && issue.type === 'strict_object' && key) {
      return `Unknown field "${key.slice(0, 60)}": it is not part of ${channel}.`;
    }
    return key && !issue.message.toLowerCase().includes(key.toLowerCase()) ? `${key}: ${issue.message}` : issue.message;
  });
  throw new BoxkeepError('InvalidArgument', problems.join(' '));
}
