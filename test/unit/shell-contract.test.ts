// One contract, kept in step: the preload's window.boxkeep, the typed client the CLI and the
// renderer use, the IPC handlers and the router all derive from shared/channels.ts. The type
// assertions are checked at compile time only: they fail `npm run typecheck` (tsconfig.json takes
// test/, and npm test runs it first), not vitest, when any of them drifts; the runtime half
// checks that every channel reaches a handler of the real router.
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { CHANNELS, type Channel, type ChannelInput, type ChannelResult } from '../../shared/channels.js';
import type { Api, BoxkeepBridge, Invoke } from '../../shared/client.js';
import type { Router } from '../../shared/transport.js';
import type { createRouter } from '../../electron/core/router.js';
import type { ControlClient } from '../../electron/host/control-client.js';
import type { IpcHandler } from '../../electron/shell/ipc.js';
import { ipcHandlers } from '../../electron/shell/ipc.js';
import type { PreloadBridge, Settled, SettledApi } from '../../shared/ipc.js';
import { buildPreloadBridge } from '../../electron/preload/bridge.js';
import { connectBridge, type ConnectOptions } from '../../renderer/src/transport.js';
import { ownedHome, type OwnedHome } from '../integration/host-fixtures.js';

/** The preload's verbs with the settled envelope taken off: must be exactly the client's Api. */
type Unsettled<P> = {
  [A in keyof P]: { [V in keyof P[A]]: P[A][V] extends (...args: infer I) => Promise<Settled<infer R>> ? (...args: I) => Promise<R> : never };
};

describe('contract type test', () => {
  it('the preload offers exactly the client verbs, with the same inputs and results', () => {
    expectTypeOf<Unsettled<SettledApi>>().toEqualTypeOf<Api>();
    expectTypeOf<keyof SettledApi>().toEqualTypeOf<keyof Api>();
    expectTypeOf<PreloadBridge['snapshots']['create']>().parameter(0).toEqualTypeOf<ChannelInput<'snapshots:create'>>();
    expectTypeOf<ReturnType<PreloadBridge['snapshots']['create']>>().resolves.toEqualTypeOf<Settled<ChannelResult<'snapshots:create'>>>();
    expectTypeOf<PreloadBridge['on']>().toEqualTypeOf<BoxkeepBridge['on']>();
  });

  it('the renderer transport accepts what the preload builds and yields the typed bridge', () => {
    expectTypeOf(buildPreloadBridge).returns.toEqualTypeOf<PreloadBridge>();
    expectTypeOf<PreloadBridge>().toMatchTypeOf<NonNullable<ConnectOptions['preload']>>();
    expectTypeOf(connectBridge).returns.resolves.toEqualTypeOf<BoxkeepBridge>();
    expectTypeOf<BoxkeepBridge['boxes']['list']>().returns.resolves.toEqualTypeOf<ChannelResult<'boxes:list'>>();
  });

  it('the router, the control socket client and the IPC handlers all speak Channel', () => {
    expectTypeOf<ReturnType<typeof createRouter>>().toEqualTypeOf<Router>();
    expectTypeOf<ControlClient>().toMatchTypeOf<Router>();
    expectTypeOf<ControlClient['invoke']>().toMatchTypeOf<Invoke>();
    expectTypeOf<Router['invoke']>().toMatchTypeOf<Invoke>();
    expectTypeOf(ipcHandlers).returns.toEqualTypeOf<Map<Channel, IpcHandler>>();
  });
});

describe('every channel reaches a handler of the real router', () => {
  let h: OwnedHome;
  beforeAll(async () => {
    h = await ownedHome();
  });
  afterAll(async () => {
    await h?.cleanup();
  });

  it('answers each channel, for a box that does not exist, with a domain error or a value, never a missing handler', async () => {
    const probe: Record<string, unknown> = { box: 'ghost', snapshot: 'ghost', image: 'ghost', name: 'n', path: '/nonexistent.qcow2' };
    const needs: Record<string, string[]> = {
      'images:import': ['path'], 'images:remove': ['image'], 'boxes:create': ['name', 'image'], 'boxes:rename': ['box', 'name'],
      'snapshots:get': ['box', 'snapshot'], 'snapshots:update': ['box', 'snapshot'], 'snapshots:restore': ['box', 'snapshot'], 'snapshots:remove': ['box', 'snapshot'],
    };
    for (const channel of CHANNELS) {
      const keys = needs[channel] ?? (channel.startsWith('boxes:') && !['boxes:list'].includes(channel) ? ['box'] : channel.startsWith('snapshots:') ? ['box'] : []);
      const input = Object.fromEntries(keys.map((k) => [k, probe[k]]));
      const outcome = await h.owner.router.invoke(channel, input).then((value) => ({ value }), (error: { code: string; message: string }) => ({ error }));
      if ('error' in outcome) {
        expect(outcome.error.message, channel).not.toMatch(/is not a function|undefined/);
        expect(['NotFound', 'Vm', 'InvalidState', 'Storage', 'InvalidArgument'], `${channel}: ${outcome.error.message}`).toContain(outcome.error.code);
        if (outcome.error.code === 'InvalidArgument') expect(outcome.error.message, channel).not.toMatch(/Unknown channel/);
      }
    }
  });
});
