// boxkeep snapshot diff | files | get-file: looking inside snapshots (electron/core/inside).
import type { FileChange, GuestEntry, SnapshotDiff } from '../../../shared/types.js';
import { arg, given, on, opt, optArg, output, type Command } from '../command.js';
import { humanBytes } from '../format.js';

const q = (text: string) => JSON.stringify(text);

export const insideCommands: Command[] = [
  {
    usage: 'snapshot diff <box> <from> [<to>] [--files]',
    summary: 'How much guest data differs between two snapshots, or a snapshot and Now (the default); --files lists the changed files.',
    details:
      'The changed bytes come from the disk layers at once. --files opens both disks read-only in\n' +
      'libguestfs\'s own small VM (tens of seconds) and lists added (+), modified (~) and removed (-)\n' +
      'paths per filesystem; a comparison of two snapshots is kept and answered at once next time.\n' +
      'A running box\'s Now is compared only through a snapshot: take one first.',
    async run({ args, api }) {
      const to = optArg(args, 'to');
      const d = await api.snapshots.diff(given({ box: arg(args, 'box'), from: arg(args, 'from'), to: to?.toLowerCase() === 'now' ? undefined : to, files: on(args, 'files') || undefined }));
      return output(d, () => showDiff(d));
    },
  },
  {
    usage: 'snapshot files <box> <snapshot> [<path>] [--filesystem FS]',
    summary: 'List a folder of a snapshot (or show one file), read-only through libguestfs.',
    async run({ args, api }) {
      const f = await api.snapshots.files(given({ box: arg(args, 'box'), snapshot: arg(args, 'snapshot'), path: optArg(args, 'path'), filesystem: opt(args, 'filesystem') }));
      return output(f, () => [`${f.filesystem} ${f.entry.path}`, ...(f.entry.kind === 'dir' ? f.entries : [f.entry]).map(line)].join('\n'));
    },
  },
  {
    usage: 'snapshot get-file <box> <snapshot> <path> --output DEST [--filesystem FS]',
    summary: 'Copy a file or folder out of a snapshot to DEST on this machine (a new path, or into an existing folder).',
    details: '-o DEST is short for --output DEST. Links are copied as links, never followed; nothing is overwritten.',
    kinds: { output: 'path' },
    async run({ args, api }) {
      const r = await api.snapshots.getFile(given({ box: arg(args, 'box'), snapshot: arg(args, 'snapshot'), path: arg(args, 'path'), destination: opt(args, 'output')!, filesystem: opt(args, 'filesystem') }));
      const counts = [r.files && `${r.files} file${r.files === 1 ? '' : 's'} (${humanBytes(r.bytes)})`, r.folders && `${r.folders} folder${r.folders === 1 ? '' : 's'}`, r.links && `${r.links} link${r.links === 1 ? '' : 's'}`].filter(Boolean);
      return output(r, () => [`Saved ${counts.join(', ') || 'nothing'} to ${r.destination}.`, ...r.skipped.map((s) => `Skipped ${s}`)].join('\n'));
    },
  },
  {
    usage: 'snapshot put-file <box> <snapshot> <path> [--filesystem FS]',
    summary: 'Put a file or folder back from a snapshot into the same place of a stopped box\'s current disk (Now), replacing what is there.',
    details: 'The box must be stopped. The copy takes the place of what Now has there in one rename inside the guest.',
    async run({ args, api }) {
      const r = await api.snapshots.putFile(given({ box: arg(args, 'box'), snapshot: arg(args, 'snapshot'), path: arg(args, 'path'), filesystem: opt(args, 'filesystem') }));
      return output(r, () => `Put ${q(r.destination)} from snapshot ${q(arg(args, 'snapshot'))} back into Now (${r.files} file${r.files === 1 ? '' : 's'}, ${humanBytes(r.bytes)}).`);
    },
  },
];

function showDiff(d: SnapshotDiff): string {
  const lines = [`From ${q(d.from.name)} to ${d.to.id ? q(d.to.name) : 'Now'}: ${humanBytes(d.changedBytes)} of guest data changed.`];
  if (d.filesNote) lines.push(d.filesNote);
  for (const fs of d.files ?? []) {
    lines.push(`${fs.filesystem} (${fs.type}):${fs.problem ? ` ${fs.problem}` : fs.changes.length ? '' : ' no files changed.'}`);
    for (const c of fs.changes) lines.push(`  ${change(c)}`);
  }
  if (d.cached) lines.push('(the file list was kept from an earlier comparison)');
  return lines.join('\n');
}

function change(c: FileChange): string {
  const mark = c.change === 'added' ? '+' : c.change === 'removed' ? '-' : '~';
  const e = (c.after ?? c.before)!;
  const what = c.change === 'modified' ? `  ${c.what.join(', ')}` : `  ${e.kind}${e.kind === 'file' ? `, ${humanBytes(e.size)}` : ''}`;
  return `${mark} ${printable(c.path)}${what}`;
}

function line(e: GuestEntry): string {
  const mode = (e.mode & 0o7777).toString(8).padStart(4, '0');
  const size = e.kind === 'file' ? humanBytes(e.size) : e.kind;
  return `${mode}  ${size.padStart(10)}  ${new Date(e.mtimeMs).toISOString().slice(0, 19).replace('T', ' ')}  ${printable(e.path.split('/').pop() || '/')}${e.kind === 'link' ? ` -> ${printable(e.target ?? '')}` : ''}`;
}

/** Guest names may hold control characters: shown escaped, never sent raw to the terminal. */
function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
