// The contract: one declaration per channel (`area:verb`) with its input schema and result
// type. The router, the preload bridge, the typed client, the web host and the CLI are all
// derived from this map; nothing re-declares a channel. A channel marked `desktopOnly` is
// something only the Electron shell can do (a native dialog): the shell's IPC binding answers
// it, and the engine's router refuses it on every other transport. A channel marked `stream`
// opens a byte stream (shared/streams.ts) instead of returning one result: its verb resolves
// to a ByteStream, and every transport carries it in its own idiom.
import * as v from 'valibot';
import { forwardsProblems, FORWARD_SYNTAX, MAX_FORWARDS } from './forwards.js';
import { descriptionProblem, nameProblem, snapshotNameRule } from './names.js';
import { MAX_DISK_GIB } from './bytes.js';
import { dailyProblem, MAX_EVERY_MINUTES, MAX_KEEP, MIN_EVERY_MINUTES } from './protect.js';
import { hostnameProblem, MAX_PASSWORD_CHARS, MAX_SSH_KEY_CHARS, MAX_SSH_KEYS, passwordProblem, sshKeyProblem, userNameProblem } from './cloud-init.js';
import type {
  Box,
  BoxDetail,
  CheckReport,
  ConsoleOutput,
  Image,
  MemoryResume,
  ProtectStatus,
  RecoveryReport,
  RemoveSnapshotResult,
  RestoreResult,
  Screenshot,
  Settings,
  Snapshot,
  SnapshotPicture,
  SnapshotTree,
  StopResult,
  SnapshotDiff,
  GuestFolder,
  FileCopyResult,
  SystemInfo,
} from './types.js';
import type { ByteStream } from './streams.js';
import type { StreamChannelName } from './stream-channels.js';

/** Carries a result type through the map without a runtime value. */
const result = <T>() => undefined as unknown as T;

/**
 * What messages call a field whose messages start with its name. A client that shows the field
 * under another name (the CLI's flags, a form's labels) swaps this subject for its own, see
 * shared/validate.ts; a field not listed here gets the client's name in front of the message.
 */
export const FIELD_SUBJECTS = {
  diskSizeGiB: 'The disk size',
  memoryMib: 'The memory',
  cpus: 'The CPU count',
  lines: 'The line count',
  description: 'The description',
  force: 'The force choice',
  snapshotCurrentFirst: 'The choice to snapshot the current state first',
  stopFirst: 'The choice to stop the box first',
  startAfter: 'The choice to start the box after',
  diskReserve: 'The disk reserve',
  network: 'The network',
  forwards: 'The port forward',
  stopTimeoutSec: 'The stop timeout',
  cloudInitUser: 'The user name',
  cloudInitPassword: 'The password',
  cloudInitSshKeys: 'The SSH key',
  cloudInitHostname: 'The host name',
  display: 'The display',
  firmware: 'The firmware',
  everyMinutes: 'The interval',
  dailyAt: 'The daily time',
  beforeStop: 'The before-stop choice',
  keepLast: 'The keep-last count',
  keepHourly: 'The keep-hourly count',
  keepDaily: 'The keep-daily count',
  keepWeekly: 'The keep-weekly count',
  keepMonthly: 'The keep-monthly count',
  memory: 'The choice to include the memory',
  diskOnly: 'The choice to restore only the disk',
} as const;
const S = FIELD_SUBJECTS;

const NO_CONTROL = /^[^\u0000-\u001f\u007f]*$/;

/** A box, image or snapshot given by id or by name. */
const ref = (what: string) =>
  v.pipe(
    v.string(`The ${what} must be given as text (its id or name).`),
    v.minLength(1, `The ${what} must not be empty: give its id or name.`),
    v.maxLength(255, `The ${what} reference is longer than 255 characters; give its id or name.`),
    v.regex(NO_CONTROL, `The ${what} reference contains a control character; give its id or name.`),
  );

const name = (what: string) => {
  const problem = (n: string) => (what === 'snapshot' ? snapshotNameRule(n) : nameProblem(n, `${what} name`));
  return v.pipe(
    v.string(`The ${what} name must be text.`),
    v.maxLength(1024, `The ${what} name is far too long; at most 255 bytes are allowed.`),
    v.check((n) => problem(n) === null, (issue) => problem(String(issue.input)) ?? 'Bad name.'),
  );
};

const description = v.pipe(
  v.string(`${S.description} must be text.`),
  v.maxLength(4096, `${S.description} is longer than 4096 characters; shorten it.`),
  v.check((d) => descriptionProblem(d) === null, (issue) => descriptionProblem(String(issue.input)) ?? 'Bad description.'),
);

const absolutePath = (what: string) =>
  v.pipe(
    v.string(`The ${what} must be a path.`),
    v.minLength(1, `The ${what} must not be empty.`),
    v.maxLength(4096, `The ${what} is longer than 4096 characters.`),
    v.regex(NO_CONTROL, `The ${what} contains a control character.`),
    v.check((p) => p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p), `The ${what} must be an absolute path.`),
  );

const int = (what: string, min: number, max: number, unit = '') =>
  v.pipe(
    v.number(`${what} must be a number.`),
    v.integer(`${what} must be a whole number.`),
    v.minValue(min, `${what} must be at least ${min}${unit}.`),
    v.maxValue(max, `${what} must be at most ${max}${unit}.`),
  );

const display = v.picklist(['vnc', 'none'], `${S.display} must be "vnc" (a screen, shown through QEMU's VNC server on a local socket) or "none" (no screen).`);

const network = v.picklist(['nat', 'none'], `${S.network} must be "nat" (QEMU's user network) or "none" (no network card).`);
const firmware = v.picklist(['bios', 'uefi'], `${S.firmware} must be "bios" (SeaBIOS) or "uefi" (OVMF).`);

/** Specs as the user wrote them (shared/forwards.ts parses them); each one checked, and no host port twice. */
const forwards = v.pipe(
  v.array(v.pipe(v.string(`${S.forwards} must be text such as "8080:80".`), v.maxLength(128, `${S.forwards} is longer than 128 characters; write it as ${FORWARD_SYNTAX}.`)), `The port forwards must be a list of texts such as "8080:80".`),
  v.maxLength(MAX_FORWARDS, `A box may have at most ${MAX_FORWARDS} port forwards.`),
  v.check((list) => forwardsProblems(list).length === 0, (issue) => forwardsProblems(issue.input as string[]).slice(0, 3).join(' ')),
);

/** What a box runs with: given at create, changed by boxes:update; each left out keeps its value (or default). */
const boxSettings = {
  diskSizeGiB: v.optional(int(S.diskSizeGiB, 1, MAX_DISK_GIB, ' GiB')),
  memoryMib: v.optional(int(S.memoryMib, 16, 1048576, ' MiB')),
  cpus: v.optional(int(S.cpus, 1, 64)),
  network: v.optional(network),
  forwards: v.optional(forwards),
  stopTimeoutSec: v.optional(int(S.stopTimeoutSec, 1, 3600, ' s')),
  display: v.optional(display),
};

/** A text field checked by one of the shared rules (its message, never the input, is what comes back). */
const ruled = (subject: string, max: number, problem: (text: string) => string | null) =>
  v.pipe(
    v.string(`${subject} must be text.`),
    v.maxLength(max, `${subject} is longer than ${max} characters.`),
    v.check((t) => problem(t) === null, (issue) => problem(String(issue.input)) ?? `${subject} is not valid.`),
  );

/**
 * Cloud-init (a NoCloud seed, electron/core/cloudinit): given a user, the box gets a seed that
 * makes that user with sudo, these keys, the password (hashed at once by the engine, kept only
 * as that hash) and host name. The rest without a user is refused by the box service.
 */
const cloudInit = {
  cloudInitUser: v.optional(ruled(S.cloudInitUser, 256, userNameProblem)),
  cloudInitPassword: v.optional(ruled(S.cloudInitPassword, MAX_PASSWORD_CHARS, passwordProblem)),
  cloudInitSshKeys: v.optional(v.pipe(
    v.array(ruled(S.cloudInitSshKeys, MAX_SSH_KEY_CHARS, sshKeyProblem), 'The SSH keys must be a list of texts, one public key each.'),
    v.maxLength(MAX_SSH_KEYS, `A box may have at most ${MAX_SSH_KEYS} SSH keys.`),
  )),
  cloudInitHostname: v.optional(ruled(S.cloudInitHostname, 253, hostnameProblem)),
};

/** A box's AutoProtect policy, given whole (shared/protect.ts): what is left out is off, or the preset's with preset. */
const protectPolicy = {
  off: v.optional(v.boolean('off must be true or false.')),
  preset: v.optional(v.boolean('preset must be true or false.')),
  everyMinutes: v.optional(v.nullable(int(S.everyMinutes, MIN_EVERY_MINUTES, MAX_EVERY_MINUTES, ' minutes'))),
  dailyAt: v.optional(v.nullable(ruled(S.dailyAt, 5, dailyProblem))),
  beforeStop: v.optional(v.boolean(`${S.beforeStop} must be true or false.`)),
  keepLast: v.optional(int(S.keepLast, 0, MAX_KEEP)),
  keepHourly: v.optional(int(S.keepHourly, 0, MAX_KEEP)),
  keepDaily: v.optional(int(S.keepDaily, 0, MAX_KEEP)),
  keepWeekly: v.optional(int(S.keepWeekly, 0, MAX_KEEP)),
  keepMonthly: v.optional(int(S.keepMonthly, 0, MAX_KEEP)),
};
/** A path inside a guest filesystem (any bytes but NUL; resolved inside the guest, never on the host). */
const guestPath = v.pipe(
  v.string('The guest path must be text.'),
  v.minLength(1, 'The guest path must not be empty.'),
  v.maxLength(4096, 'The guest path is longer than 4096 characters.'),
  v.check((p) => !p.includes('\u0000'), 'The guest path contains a NUL character.'),
);

const empty = v.strictObject({});
const boxInput = v.strictObject({ box: ref('box') });
const snapshotRef = v.strictObject({ box: ref('box'), snapshot: ref('snapshot') });

export const channels = {
  'system:info': { input: empty, result: result<SystemInfo>() },
  'system:check': { input: v.strictObject({ box: v.optional(ref('box')) }), result: result<CheckReport>() },

  'images:list': { input: empty, result: result<Image[]>() },
  'images:import': {
    input: v.strictObject({
      path: absolutePath('image file path'),
      name: v.optional(name('image')),
      kernelPath: v.optional(absolutePath('kernel path')),
      initrdPath: v.optional(absolutePath('initrd path')),
      append: v.optional(v.pipe(v.string('The kernel command line must be text.'), v.maxLength(4096, 'The kernel command line is longer than 4096 characters.'), v.regex(NO_CONTROL, 'The kernel command line contains a control character.'))),
    }),
    result: result<Image>(),
  },
  'images:remove': { input: v.strictObject({ image: ref('image') }), result: result<{ removedId: string }>() },

  'boxes:list': { input: empty, result: result<Box[]>() },
  'boxes:get': { input: boxInput, result: result<BoxDetail>() },
  'boxes:create': {
    input: v.strictObject({
      name: name('box'),
      image: ref('image'),
      ...boxSettings,
      ...cloudInit,
      firmware: v.optional(firmware),
    }),
    result: result<Box>(),
  },
  /** Settings of an existing box; a running box keeps its old ones until its next start. */
  'boxes:update': {
    input: v.strictObject({
      box: ref('box'),
      ...boxSettings,
    }),
    result: result<Box>(),
  },
  'boxes:rename': { input: v.strictObject({ box: ref('box'), name: name('box') }), result: result<Box>() },
  'boxes:remove': { input: boxInput, result: result<{ removedId: string; removedName: string; freedBytes: number }>() },
  'boxes:start': { input: boxInput, result: result<Box>() },
  'boxes:stop': { input: v.strictObject({ box: ref('box'), force: v.optional(v.boolean(`${S.force} must be true or false.`)) }), result: result<StopResult>() },
  'boxes:pause': { input: boxInput, result: result<Box>() },
  'boxes:resume': { input: boxInput, result: result<Box>() },
  'boxes:console': {
    input: v.strictObject({ box: ref('box'), lines: v.optional(int(S.lines, 1, 10000)) }),
    result: result<ConsoleOutput>(),
  },

  /** Detaches the box's installer media; the next boot goes to the disk. */
  'boxes:ejectInstaller': { input: boxInput, result: result<Box>() },
  /** The box's serial terminal: what the guest prints, out; what is typed, in. */
  'consoles:open': { input: boxInput, result: result<ByteStream>(), stream: true },
  /** A PNG of the running box's screen (QMP screendump). */
  'boxes:screenshot': { input: boxInput, result: result<Screenshot>() },
  /** The box's screen: raw RFB (VNC) bytes both ways, one VNC connection per stream. */
  'displays:open': { input: boxInput, result: result<ByteStream>(), stream: true },
  /**
   * A PNG of the running box's screen of any size (up to 64 MiB) as a one-way stream of its
   * bytes, ending 'closed' once all went ('error' saying why otherwise). boxes:screenshot is
   * one message and so refuses a PNG past 720 000 bytes (a photo wallpaper at 1080p).
   */
  'displays:screenshot': { input: boxInput, result: result<ByteStream>(), stream: true },

  'snapshots:list': { input: boxInput, result: result<SnapshotTree>() },
  'snapshots:get': { input: snapshotRef, result: result<Snapshot>() },
  'snapshots:create': {
    input: v.strictObject({
      box: ref('box'), name: v.optional(name('snapshot')), description: v.optional(description),
      /** Keep the running machine's memory too (a running box only); absent: disk only. */
      memory: v.optional(v.boolean(`${S.memory} must be true or false.`)),
    }),
    result: result<Snapshot>(),
  },
  'snapshots:update': {
    input: v.strictObject({ box: ref('box'), snapshot: ref('snapshot'), name: v.optional(name('snapshot')), description: v.optional(description) }),
    result: result<Snapshot>(),
  },
  'snapshots:restore': {
    input: v.strictObject({
      box: ref('box'),
      snapshot: ref('snapshot'),
      snapshotCurrentFirst: v.optional(v.boolean(`${S.snapshotCurrentFirst} must be true or false.`)),
      stopFirst: v.optional(v.boolean(`${S.stopFirst} must be true or false.`)),
      startAfter: v.optional(v.boolean(`${S.startAfter} must be true or false.`)),
      /** Of a snapshot with memory: only its disk (the box stays stopped); absent: with its memory, and the box runs. */
      diskOnly: v.optional(v.boolean(`${S.diskOnly} must be true or false.`)),
    }),
    result: result<RestoreResult>(),
  },
  'snapshots:remove': { input: snapshotRef, result: result<RemoveSnapshotResult>() },
  /** Of a snapshot with memory: whether a restore could resume it now, and why not (changed devices, another QEMU, a missing state file). Changes nothing. */
  'snapshots:resumable': { input: snapshotRef, result: result<MemoryResume>() },
  /** The small picture of the screen a live snapshot kept (Snapshot.hasPicture). */
  'snapshots:picture': { input: snapshotRef, result: result<SnapshotPicture>() },
  /** Pinned snapshots are never pruned by AutoProtect's retention. */
  'snapshots:pin': { input: snapshotRef, result: result<Snapshot>() },
  'snapshots:unpin': { input: snapshotRef, result: result<Snapshot>() },

  /** A box's AutoProtect policy and when its next automatic snapshot comes. */
  'protect:get': { input: boxInput, result: result<ProtectStatus>() },
  'protect:set': { input: v.strictObject({ box: ref('box'), ...protectPolicy }), result: result<ProtectStatus>() },

  /** How much differs between two snapshots (or a snapshot and a stopped box's Now); with files, which files. */
  'snapshots:diff': {
    input: v.strictObject({ box: ref('box'), from: ref('snapshot'), to: v.optional(ref('snapshot')), files: v.optional(v.boolean('The files choice must be true or false.')) }),
    result: result<SnapshotDiff>(),
  },
  /** One folder (or file) of a snapshot's filesystem, read through libguestfs. */
  'snapshots:files': {
    input: v.strictObject({ box: ref('box'), snapshot: ref('snapshot'), path: v.optional(guestPath), filesystem: v.optional(guestPath) }),
    result: result<GuestFolder>(),
  },
  /** Copies a file or folder of a snapshot to a new path on the host (never over anything). */
  'snapshots:getFile': {
    input: v.strictObject({ box: ref('box'), snapshot: ref('snapshot'), path: guestPath, destination: absolutePath('destination'), filesystem: v.optional(guestPath) }),
    result: result<FileCopyResult>(),
  },
  /** Copies a file or folder of a snapshot into the same place of a stopped box's current disk (Now). */
  'snapshots:putFile': {
    input: v.strictObject({ box: ref('box'), snapshot: ref('snapshot'), path: guestPath, filesystem: v.optional(guestPath) }),
    result: result<FileCopyResult>(),
  },

  'settings:get': { input: empty, result: result<Settings>() },
  'settings:update': {
    // Bytes, or 'default' to go back to the default. 0 is allowed: refuse only what would not fit at all.
    input: v.strictObject({
      diskReserve: v.optional(v.union([int(S.diskReserve, 0, Number.MAX_SAFE_INTEGER, ' bytes'), v.literal('default')], `${S.diskReserve} must be a number of bytes or "default".`)),
    }),
    result: result<Settings>(),
  },

  'recovery:run': {
    input: v.strictObject({
      discard: v.optional(ref('intent record')),
      force: v.optional(v.boolean('force must be true or false.')),
    }),
    result: result<RecoveryReport>(),
  },
  'recovery:last': { input: empty, result: result<RecoveryReport | null>() },
  'debug:crashPoints': { input: empty, result: result<string[]>() },

  /** A box as one .boxkeep file (electron/core/archive): the whole tree, or one snapshot flattened; a task with progress. */
  'boxes:export': {
    input: v.strictObject({
      box: ref('box'),
      snapshot: v.optional(ref('snapshot')),
      path: absolutePath('archive path'),
      compression: v.optional(v.picklist(['zstd', 'gzip', 'none'], 'The compression must be "zstd", "gzip" or "none".')),
    }),
    result: result<{ path: string; bytes: number; compression: 'zstd' | 'gzip' | 'none' }>(),
  },
  /** A .boxkeep file as a new box (untrusted input, checked whole); names already taken get a suffix. */
  'boxes:import': { input: v.strictObject({ path: absolutePath('archive path'), name: v.optional(name('box')) }), result: result<Box>() },
  /** A new box from a snapshot of another (or its Now): linked (an overlay on that snapshot, which becomes shared) or full (an independent copy). */
  'boxes:clone': {
    input: v.strictObject({
      box: ref('box'),
      from: v.optional(ref('snapshot')),
      full: v.optional(v.boolean('The full choice must be true or false.')),
      name: v.optional(name('box')),
    }),
    result: result<Box>(),
  },
  /** Asks a running task (tasks:progress) to stop; an export or import then ends leaving nothing. */
  'tasks:cancel': { input: v.strictObject({ taskId: v.pipe(v.string('The task id must be text.'), v.regex(/^[0-9a-f]{12}$/, 'The task id must be 12 hex digits.')) }), result: result<{ cancelled: boolean }>() },

  /** The system file picker for a disk image: its absolute path, or null when cancelled. */
  'shell:pickImageFile': { input: empty, result: result<string | null>(), desktopOnly: true },
  /** The system file picker for a .boxkeep archive to import: its absolute path, or null when cancelled. */
  'shell:pickArchiveFile': { input: empty, result: result<string | null>(), desktopOnly: true },
  /** The system save dialog for an export: the absolute path chosen, or null when cancelled. */
  'shell:pickArchiveSavePath': {
    input: v.strictObject({ defaultName: v.pipe(v.string('The file name must be text.'), v.maxLength(255, 'The file name is longer than 255 characters.'), v.regex(NO_CONTROL, 'The file name contains a control character.')) }),
    result: result<string | null>(),
    desktopOnly: true,
  },
} as const;

export type ChannelMap = typeof channels;
export type Channel = keyof ChannelMap;
export type ChannelInput<C extends Channel> = v.InferOutput<ChannelMap[C]['input']>;
export type ChannelResult<C extends Channel> = ChannelMap[C]['result'];
export const CHANNELS = Object.keys(channels) as Channel[];

/** Channels only the Electron shell answers; the router refuses them. */
export type DesktopChannel = { [C in Channel]: ChannelMap[C] extends { desktopOnly: true } ? C : never }[Channel];
/** Channels that open a byte stream rather than return a result. */
export type StreamChannel = { [C in Channel]: ChannelMap[C] extends { stream: true } ? C : never }[Channel];
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** The stream channels listed by name in stream-channels.ts are exactly those marked here. */
const streamNamesAgree: Same<StreamChannel, StreamChannelName> = true;
void streamNamesAgree;
/** Channels the engine's router answers with one result, over every transport. */
export type EngineChannel = Exclude<Channel, DesktopChannel | StreamChannel>;
export const DESKTOP_CHANNELS = CHANNELS.filter((c) => 'desktopOnly' in channels[c]) as DesktopChannel[];
export const STREAM_CHANNELS = CHANNELS.filter((c) => 'stream' in channels[c]) as StreamChannel[];

export function isStreamChannel(channel: string): channel is StreamChannel {
  return (STREAM_CHANNELS as string[]).includes(channel);
}

export function isDesktopOnly(channel: string): channel is DesktopChannel {
  return (DESKTOP_CHANNELS as string[]).includes(channel);
}

export function isChannel(value: unknown): value is Channel {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(channels, value);
}
