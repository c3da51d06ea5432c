// The router: every channel of the contract mapped to one core call. Bound to Electron IPC,
// the WebSocket host, the local control socket and in-process callers; none of them
// re-declares a channel. Input is parsed here, at the edge, before any service sees it.
import { isDesktopOnly, isStreamChannel, type Channel, type ChannelInput, type ChannelResult, type EngineChannel, type StreamChannel } from '../../shared/channels.js';
import { BoxkeepError } from '../../shared/errors.js';
import type { Emitter } from '../../shared/events.js';
import type { ByteStream } from '../../shared/streams.js';
import type { Router } from '../../shared/transport.js';
import type { RecoveryReport, SystemInfo } from '../../shared/types.js';
import { parseInput } from '../../shared/validate.js';
import { checkHome } from './check.js';
import type { ArchiveService } from './archive/service.js';
import type { CloneService } from './clone/service.js';
import type { BoxService } from './boxes/service.js';
import type { Tasks } from './tasks.js';
import type { HomeData } from './deps.js';
import type { ImageService } from './images/service.js';
import type { KeyedMutex } from './mutex.js';
import { CRASH_POINTS } from './operations.js';
import type { RecoveryOptions } from './recovery/recovery.js';
import type { SnapshotEngine } from './snapshots/engine.js';
import type { ProtectService } from './protect/service.js';
import type { InsideService } from './inside/service.js';
import type { VmControl } from './vm/control.js';
import { asDiskFull } from './fsutil.js';
import { getSettings, updateSettings } from './space.js';
import { readHandlers } from './reads.js';
import { memoryResume } from './snapshots/resumable.js';

type Handlers = { [C in EngineChannel]: (input: ChannelInput<C>) => Promise<ChannelResult<C>> | ChannelResult<C> };
type StreamHandlers = { [C in StreamChannel]: (input: ChannelInput<C>) => Promise<ByteStream> };

/** What the channels are bound to: the services, recovery, and the home (settings, error advice). */
export interface RouterDeps extends HomeData {
  events: Emitter;
  locks: KeyedMutex;
  images: ImageService;
  boxes: BoxService;
  vms: VmControl;
  snapshots: SnapshotEngine;
  protect: ProtectService;
  archives: ArchiveService;
  clones: CloneService;
  tasks: Tasks;
  inside: InsideService;
  info(): Promise<SystemInfo>;
  recover(opts: RecoveryOptions): Promise<RecoveryReport>;
  readonly lastRecovery: RecoveryReport | null;
}

export function createRouter(core: RouterDeps): Router {
  const h: Handlers = {
    // boxes:list, images:list, snapshots:list: the functions a read-only opening serves too.
    ...readHandlers(core),
    'system:info': () => core.info(),
    'system:check': (i) => checkHome(core, i.box),

    'images:import': (i) => core.images.import(i),
    'images:remove': (i) => core.images.remove(i.image),

    'boxes:get': (i) => core.boxes.detail(i.box),
    'boxes:create': (i) => core.boxes.create(i),
    'boxes:rename': (i) => core.boxes.rename(i.box, i.name),
    'boxes:update': (i) => core.boxes.update(i),
    'boxes:remove': (i) => core.boxes.remove(i.box),
    'boxes:start': (i) => core.vms.start(i.box),
    // A forced stop is an emergency: it does not wait for a snapshot first. The snapshot's
    // pruning runs once the box has stopped (offline merges), before the answer.
    'boxes:stop': async (i) => {
      const snapped = !i.force && (await core.protect.beforeStop(i.box));
      const result = await core.vms.stop(i.box, { force: i.force ?? false });
      if (snapped) await core.protect.afterStop(result.id);
      return result;
    },
    'boxes:pause': (i) => core.vms.pause(i.box),
    'boxes:resume': (i) => core.vms.resume(i.box),
    'boxes:console': (i) => core.vms.console(i.box, i.lines ?? 200),
    'boxes:ejectInstaller': (i) => core.vms.ejectInstaller(i.box),
    'boxes:screenshot': (i) => core.vms.screenshot(i.box),

    'snapshots:get': (i) => core.snapshots.get(i.box, i.snapshot),
    'snapshots:create': (i) => core.snapshots.create(i),
    'snapshots:update': (i) => core.snapshots.update(i),
    'snapshots:restore': (i) => core.snapshots.restore(i),
    'snapshots:remove': (i) => core.snapshots.remove(i.box, i.snapshot),
    'snapshots:resumable': (i) => memoryResume(core, i.box, i.snapshot),
    'snapshots:picture': (i) => core.snapshots.picture(i.box, i.snapshot),
    'snapshots:pin': (i) => core.snapshots.pin(i.box, i.snapshot, true),
    'snapshots:unpin': (i) => core.snapshots.pin(i.box, i.snapshot, false),

    'protect:get': (i) => core.protect.status(i.box),
    'protect:set': (i) => core.protect.set(i),
    'snapshots:diff': (i) => core.inside.diff(i),
    'snapshots:files': (i) => core.inside.files(i),
    'snapshots:getFile': (i) => core.inside.getFile(i),
    'snapshots:putFile': (i) => core.inside.putFile(i),

    'settings:get': () => getSettings(core),
    'settings:update': (i) => updateSettings(core, i),

    'recovery:run': (i) => core.recover(i),
    'recovery:last': () => core.lastRecovery,
    'debug:crashPoints': () => [...CRASH_POINTS],

    'boxes:export': (i) => core.archives.export(i),
    'boxes:import': (i) => core.archives.import(i),
    'boxes:clone': (i) => core.clones.clone(i),
    'tasks:cancel': (i) => ({ cancelled: core.tasks.cancel(i.taskId) }),
  };

  const streams: StreamHandlers = {
    'consoles:open': (i) => core.vms.openConsole(i.box),
    'displays:open': (i) => core.vms.openDisplay(i.box),
    'displays:screenshot': (i) => core.vms.screenshotStream(i.box),
  };

  // ENOSPC/SQLITE_FULL from any step: say the disk is full and what to do, not Internal.
  const asBoxkeepError = (err: unknown) => BoxkeepError.from(asDiskFull(core.paths.root, err));

  return {
    async invoke(channel, raw) {
      try {
        if (isDesktopOnly(channel)) {
          throw new BoxkeepError('InvalidArgument', `${channel} is part of the Boxkeep desktop app only; a web page or the command line cannot use it.`);
        }
        const input = parseInput(channel as Channel, raw);
        if (isStreamChannel(channel)) throw new BoxkeepError('InvalidArgument', `${channel} opens a byte stream; open it as a stream (the client's ${channel.replace(':', '.')}()), not as a call.`);
        const handler = h[channel as EngineChannel] as (input: unknown) => unknown;
        return await handler(input);
      } catch (err) {
        throw asBoxkeepError(err);
      }
    },
    async openStream(channel, raw) {
      try {
        if (!isStreamChannel(channel)) {
          throw new BoxkeepError('InvalidArgument', `${String(channel).slice(0, 80)} is not a stream channel; streams open on ${Object.keys(streams).join(', ')}.`);
        }
        const input = parseInput(channel, raw);
        return await (streams[channel] as (input: unknown) => Promise<ByteStream>)(input);
      } catch (err) {
        throw asBoxkeepError(err);
      }
    },
    on: (event, listener) => core.events.on(event, listener),
  };
}
