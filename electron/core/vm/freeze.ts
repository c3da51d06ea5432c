// Application-consistent snapshots and graceful stops through the guest agent (agent.ts).
// A freeze is bracketed by a mark in the run folder (fsfreeze.json), written durably before
// the freeze is asked for and removed only once the guest said it is thawed: an owner that
// dies in between leaves the mark, and whoever adopts the box next asks the guest and thaws
// it. The mark keeps that question off the routine adoption every command makes (asking a
// guest without an agent costs the whole sync timeout).
import fs from 'node:fs';
import path from 'node:path';
import { msFromEnv } from '../env.js';
import { removeDurable, writeFileDurable } from '../fsutil.js';
import type { Logger } from '../logger.js';
import { GuestAgent } from './agent.js';
import { QGA_CHARDEV, qgaSocketPath } from './qemu.js';
import type { QmpClient } from './qmp.js';

export const FREEZE_MARK = 'fsfreeze.json';
/** A live snapshot waits this long for guest-sync before it goes on crash-consistent. */
export const AGENT_SYNC_MS = 1000;
/** fsfreeze-freeze syncs every filesystem first: a guest with much dirty data takes a while. */
const FREEZE_TIMEOUT_MS = 15_000;
const THAW_TIMEOUT_MS = 10_000;
/** An agent that froze the guest is known to be there: worth a longer wait than a first sync. */
const RESYNC_MS = 5000;
/**
 * A freeze call that failed or timed out may still be running in the guest (qemu-ga does one
 * command at a time: a long sync, a slow freeze hook) and freeze it after we gave up: the thaw
 * keeps asking this long, while QEMU runs, before it leaves the guest to the next owner.
 */
const THAW_RETRY_MS = 60_000;
const THAW_RETRY_PAUSE_MS = 500;

/**
 * THAW_RETRY_MS, or BOXKEEP_THAW_RETRY_MS (tests). A guest left frozen past it keeps its mark:
 * the settle of an unsettled live snapshot thaws it once QEMU answers, an adoption otherwise.
 */
const thawRetryMs = () => msFromEnv('BOXKEEP_THAW_RETRY_MS', THAW_RETRY_MS);

export function freezeMarkPath(runDir: string): string {
  return path.join(runDir, FREEZE_MARK);
}

/** A guest whose filesystems may be frozen; thaw() is idempotent and never throws. */
export interface FreezeBracket {
  /** The agent froze at least one filesystem: the snapshot is application-consistent. */
  frozen: boolean;
  thaw(): Promise<void>;
}

const NOT_FROZEN: FreezeBracket = { frozen: false, thaw: async () => {} };

type Ids = { op: string; boxId: string; snapshotId?: string };

/**
 * Has the guest opened its end of the agent's port? QEMU knows (query-chardev's frontend-open
 * follows the guest's open and close), at the cost of one QMP round trip: a guest that runs no
 * agent is then never kept waiting for the sync timeout. A QEMU that does not say gets the sync.
 */
async function agentPortOpen(qmp: QmpClient): Promise<boolean> {
  try {
    const chardevs = await qmp.execute<{ label: string; 'frontend-open'?: boolean }[]>('query-chardev', undefined, { timeoutMs: 2000 });
    const port = chardevs.find((c) => c.label === QGA_CHARDEV);
    return port !== undefined && port['frontend-open'] !== false;
  } catch {
    return false;
  }
}

/** An agent to talk to, or null: the port must be open in the guest and the agent must sync. */
async function connectAgent(qmp: QmpClient, runDir: string, syncTimeoutMs: number): Promise<GuestAgent | null> {
  if (!(await agentPortOpen(qmp))) return null;
  return GuestAgent.connect(qgaSocketPath(runDir), { syncTimeoutMs });
}

/**
 * Freezes the guest's filesystems when its agent answers guest-sync within AGENT_SYNC_MS;
 * otherwise (no agent, or the freeze failed) the caller goes on crash-consistent. Never throws.
 */
export async function freezeGuest(qmp: QmpClient, runDir: string, logger: Logger, ids: Ids): Promise<FreezeBracket> {
  const agent = await connectAgent(qmp, runDir, AGENT_SYNC_MS);
  if (!agent) {
    logger.info('no guest agent: crash-consistent', ids);
    return NOT_FROZEN;
  }
  const started = performance.now();
  let frozen = 0;
  try {
    writeFileDurable(freezeMarkPath(runDir), JSON.stringify({ ...ids, at: Date.now() }));
    frozen = await agent.call<number>('guest-fsfreeze-freeze', undefined, FREEZE_TIMEOUT_MS);
  } catch (err) {
    const error = String((err as Error).message ?? err);
    // The agent answered no (fsfreeze disabled, a filesystem that would not freeze: qemu-ga
    // thaws what a failed freeze froze): once the guest is known not frozen, nothing is left to
    // thaw, and no mark for every later owner to ask about.
    if (agent.open && (await thawOver(agent)) !== 'unknown' && dropMark(runDir)) {
      agent.close();
      logger.warn('guest agent refused the freeze: crash-consistent', { ...ids, error });
      return NOT_FROZEN;
    }
    // A freeze that timed out may still finish in the guest: thawed below all the same.
    logger.warn('guest freeze failed: crash-consistent', { ...ids, error });
  }
  let thawing: Promise<void> | null = null;
  return {
    frozen: typeof frozen === 'number' && frozen > 0,
    thaw: () => (thawing ??= thawGuest(agent, qmp, runDir, logger, ids).then(() => {
      logger.info('guest frozen', { ...ids, filesystems: frozen, frozen_ms: Math.round(performance.now() - started) });
    })),
  };
}

/**
 * Thaws over the freeze's own connection, or a new one when that one broke (a timed-out call).
 * The connection is closed either way: QEMU's chardev serves one client, and one left open
 * would leave every later agent call waiting in the socket's backlog.
 */
async function thawGuest(agent: GuestAgent, qmp: QmpClient, runDir: string, logger: Logger, ids: Ids): Promise<void> {
  try {
    await agent.call('guest-fsfreeze-thaw', undefined, THAW_TIMEOUT_MS);
    removeDurable(freezeMarkPath(runDir));
    return;
  } catch {
    // Thawed again below, over a fresh connection that syncs first.
  } finally {
    agent.close();
  }
  const deadline = Date.now() + thawRetryMs();
  for (;;) {
    if ((await thawIfLeftFrozen(null, runDir)) !== 'unreachable') return;
    if (qmp.closed || Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, THAW_RETRY_PAUSE_MS));
  }
  logger.error('guest not thawed: the next owner will try again', ids);
}

/**
 * For a new owner of a running guest: if a freeze mark is there, asks the agent whether the
 * guest is frozen and thaws it. 'unreachable' keeps the mark for the next try (a paused guest
 * cannot answer). Never throws.
 */
export async function thawIfLeftFrozen(qmp: QmpClient | null, runDir: string): Promise<'none' | 'thawed' | 'was-thawed' | 'unreachable'> {
  if (!fs.existsSync(freezeMarkPath(runDir))) return 'none';
  const agent = qmp ? await connectAgent(qmp, runDir, RESYNC_MS) : await GuestAgent.connect(qgaSocketPath(runDir), { syncTimeoutMs: RESYNC_MS });
  if (!agent) return 'unreachable';
  try {
    const outcome = await thawOver(agent);
    if (outcome === 'unknown') return 'unreachable';
    removeDurable(freezeMarkPath(runDir));
    return outcome;
  } catch {
    return 'unreachable';
  } finally {
    agent.close();
  }
}

/**
 * Asks the guest whether it is frozen and thaws it if so (thaw is a no-op on a thawed guest).
 * An agent that answers but refuses both (fsfreeze disabled with qemu-ga -b) froze nothing:
 * 'was-thawed'. 'unknown': no answer, or frozen and it would not thaw. Never throws.
 */
async function thawOver(agent: GuestAgent): Promise<'thawed' | 'was-thawed' | 'unknown'> {
  let status: unknown = null;
  try {
    status = await agent.call<string>('guest-fsfreeze-status', undefined, THAW_TIMEOUT_MS);
  } catch {
    if (!agent.open) return 'unknown';
  }
  if (status === 'thawed') return 'was-thawed';
  try {
    const thawed = await agent.call<number>('guest-fsfreeze-thaw', undefined, THAW_TIMEOUT_MS);
    return status === 'frozen' || (typeof thawed === 'number' && thawed > 0) ? 'thawed' : 'was-thawed';
  } catch {
    return agent.open && status === null ? 'was-thawed' : 'unknown';
  }
}

/** Removes the freeze mark durably; false when that failed (the mark stays: the thaw path keeps it honest). */
function dropMark(runDir: string): boolean {
  try {
    removeDurable(freezeMarkPath(runDir));
    return true;
  } catch {
    return false;
  }
}

/** A new QEMU boots a fresh guest: nothing of an old freeze applies to it. */
export function forgetFreeze(runDir: string): void {
  fs.rmSync(freezeMarkPath(runDir), { force: true });
}

/**
 * Asks the guest's agent to power the guest off (graceful without ACPI); false when no agent
 * answers. guest-shutdown answers nothing when it works: the connection stays open until
 * `done` settles, so the request is read before our side of the channel closes.
 */
export async function shutdownThroughAgent(qmp: QmpClient, runDir: string, done: Promise<unknown>): Promise<boolean> {
  const agent = await connectAgent(qmp, runDir, AGENT_SYNC_MS);
  if (!agent) return false;
  try {
    await agent.send('guest-shutdown', { mode: 'powerdown' });
  } catch {
    agent.close();
    return false;
  }
  const timer = setTimeout(() => agent.close(), 30_000);
  timer.unref();
  void done.finally(() => {
    clearTimeout(timer);
    agent.close();
  });
  return true;
}
