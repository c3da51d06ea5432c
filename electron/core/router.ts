// The router: every channel of the contract mapped to one core call. Bound to Electron IPC,
// the WebSocket host, the local control socket and in-process callers; none of them
// re-declares a channel. Input is parsed here, at the edge, before any service sees it.
import type { Channel, ChannelInput, ChannelResult } from '../../shared/channels.js';
import { BoxkeepError } from '../../shared/errors.js';
import type { EventMap, EventName } from '../../shared/events.js';
import { parseInput } from '../../shared/validate.js';
import { checkHome } from './check.js';
import { CRASH_POINTS } from './crash.js';
import type { Core } from './core.js';

type Handlers = { [C in Channel]: (input: ChannelInput<C>) => Promise<ChannelResult<C>> | ChannelResult<C> };

export interface Router {
  /** Parses `raw` for `channel` and runs it; rejects with a BoxkeepError only. */
  invoke(channel: string, raw: unknown): Promise<unknown>;
  on<E extends EventName>(event: E, listener: (payload: EventMap[E]) => void): () => void;
}

export function createRouter(core: Core): Router {
  const h: Handlers = {
    'system:info': () => core.info(),
    'system:check': (i) => checkHome(core, i.box),

    'images:list': () => core.images.list(),
    'images:import': (i) => core.images.import(i),
    'images:remove': (i) => core.images.remove(i.image),

    'boxes:list': () => core.boxes.list(),
    'boxes:get': (i) => core.boxes.detail(i.box),
    'boxes:create': (i) => core.boxes.create(i),
    'boxes:rename': (i) => core.boxes.rename(i.box, i.name),
    'boxes:remove': (i) => core.boxes.remove(i.box),
    'boxes:start': (i) => core.vms.start(i.box),
    'boxes:stop': (i) => core.vms.stop(i.box, { force: i.force ?? false }),
    'boxes:pause': (i) => core.vms.pause(i.box),
    'boxes:resume': (i) => core.vms.resume(i.box),
    'boxes:console': (i) => core.vms.console(i.box, i.lines ?? 200),

    'snapshots:list': (i) => core.snapshots.tree(i.box),
    'snapshots:get': (i) => core.snapshots.get(i.box, i.snapshot),
    'snapshots:create': (i) => core.snapshots.create(i),
    'snapshots:update': (i) => core.snapshots.update(i),
    'snapshots:restore': (i) => core.snapshots.restore(i),
    'snapshots:remove': (i) => core.snapshots.remove(i.box, i.snapshot),

    'recovery:run': () => core.recover(),
    'recovery:last': () => core.lastRecovery,
    'debug:crashPoints': () => [...CRASH_POINTS],
  };

  return {
    async invoke(channel, raw) {
      try {
        const input = parseInput(channel as Channel, raw);
        const handler = h[channel as Channel] as (input: unknown) => unknown;
        return await handler(input);
      } catch (err) {
        throw BoxkeepError.from(err);
      }
    },
    on: (event, listener) => core.events.on(event, listener),
  };
}
