// The typed API a command calls, over the invoker, without the channel map: the map carries
// every channel's schema, and valibot with them, which a command forwarded to the running app
// would load and build only to check its input before the app checks it again. So a call goes
// out as it is made; only when it is refused as invalid is the map loaded, to check the input
// here and name the flag the user typed (--memory) in place of the contract's field, which the
// engine, knowing only the channel's fields, cannot.
import type { Api } from '../../shared/client.js';
import type { Channel, StreamChannel } from '../../shared/channels.js';
import { BoxkeepError } from '../../shared/errors.js';
import { STREAM_CHANNEL_NAMES } from '../../shared/stream-channels.js';
import type { FieldLabel } from '../../shared/validate.js';
import type { Invoker } from './invoker.js';

const STREAMS: ReadonlySet<string> = new Set(STREAM_CHANNEL_NAMES);

export function commandApi(invoker: Invoker, labels: FieldLabel): Api {
  const call = async (channel: string, input: unknown): Promise<unknown> => {
    try {
      return await (STREAMS.has(channel) ? invoker.openStream(channel as StreamChannel, input) : invoker.invoke(channel as Channel, input));
    } catch (err) {
      if (err instanceof BoxkeepError && err.code === 'InvalidArgument') {
        const { parseInput } = await import('../../shared/validate.js');
        // Throws the same problem in the user's words; input the schema accepts was refused
        // for another reason, said as the engine said it.
        parseInput(channel as Channel, input, labels);
      }
      throw err;
    }
  };
  // `then` is never a verb or an area: the object must not look like a promise when returned.
  const verbs = (area: string) => new Proxy({}, { get: (_, verb) => (typeof verb === 'string' && verb !== 'then' ? (input?: unknown) => call(`${area}:${verb}`, input ?? {}) : undefined) });
  const areas = new Map<string, object>();
  return new Proxy({}, {
    get(_, area) {
      if (typeof area !== 'string' || area === 'then') return undefined;
      let found = areas.get(area);
      if (!found) areas.set(area, (found = verbs(area)));
      return found;
    },
  }) as Api;
}
