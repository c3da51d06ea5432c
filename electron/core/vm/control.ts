// Running boxes as the rest of the engine sees them: implemented by the VM supervisor.
import type { ByteStream } from '../../../shared/streams.js';
import type { Box, ConsoleOutput, Screenshot, SnapshotMemory, StopResult } from '../../../shared/types.js';
import type { IncomingMemory } from './memory-load.js';
import type { ReportBuilder } from '../recovery/report.js';

/** A start that resumes a snapshot's running machine instead of booting (a restore with memory). */
export interface StartOptions {
  memory?: IncomingMemory;
}

export interface VmControl {
  start(box: string, opts?: StartOptions): Promise<Box>;
  /** Why a start now could not load this memory state (QEMU version, devices), or null. */
  memoryMismatch(box: string, facts: SnapshotMemory): Promise<string | null>;
  stop(box: string, opts: { force: boolean }): Promise<StopResult>;
  pause(box: string): Promise<Box>;
  resume(box: string): Promise<Box>;
  console(box: string, lines: number): Promise<ConsoleOutput>;
  /** Detaches the box's installer media (at once if it runs); the next start boots from the disk. */
  ejectInstaller(box: string): Promise<Box>;
  /** A live stream of the box's serial terminal; the box must be running (or paused). */
  openConsole(box: string): Promise<ByteStream>;
  /** A new VNC connection to the box's screen (raw RFB); the box must run with display vnc. */
  openDisplay(box: string): Promise<ByteStream>;
  /** A PNG of the screen of a box running with display vnc. */
  screenshot(box: string): Promise<Screenshot>;
  /** The same as a stream of the PNG's bytes, for screens too large for one message; ends 'closed' once all went. */
  screenshotStream(box: string): Promise<ByteStream>;
  accelerator(): 'kvm' | 'tcg' | 'unknown';
  /** The accelerator chosen, or the one the next start will choose when that is known already. */
  nextAccelerator(): Promise<'kvm' | 'tcg' | 'unknown'>;
  /** QEMU's version, asked of the binary the first time (null while it is not installed). */
  qemuVersion(): Promise<string | null>;
  /** Called by recovery: reattach to running QEMUs or mark their boxes stopped/failed. */
  adopt(report: ReportBuilder): Promise<void>;
  close(): Promise<void>;
}
