import { describe, expect, it } from 'vitest';
import { UsageError, closest, parseArgs, parseGlobal, parseUsage, wantsJson, type ValueKind } from '../../electron/cli/args.js';

const CREATE = 'box create <name> --image <image> [--disk-size GiB] [--memory MiB] [--cpus N]';
const IMPORT = 'image import <file> [--name N] [--kernel F --initrd F --append S]';

function parse(usage: string, tokens: string[], kinds?: Record<string, ValueKind>) {
  return parseArgs(tokens, parseUsage(usage), { kinds, cwd: '/work/here', usage: `boxkeep ${usage}` });
}

function usageError(run: () => unknown): UsageError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return err as UsageError;
  }
  throw new Error('expected a usage error');
}

describe('usage lines are the declaration', () => {
  it('reads words, required and optional positionals, flags with values and switches', () => {
    expect(parseUsage('snapshot restore <box> <snapshot> [--snapshot-current-first] [--stop-first]')).toEqual({
      words: ['snapshot', 'restore'],
      positionals: [{ name: 'box', required: true }, { name: 'snapshot', required: true }],
      flags: [{ name: 'snapshot-current-first', value: null, required: false }, { name: 'stop-first', value: null, required: false }],
    });
    expect(parseUsage(CREATE).flags).toEqual([
      { name: 'image', value: '<image>', required: true },
      { name: 'disk-size', value: 'GiB', required: false },
      { name: 'memory', value: 'MiB', required: false },
      { name: 'cpus', value: 'N', required: false },
    ]);
    expect(parseUsage('snapshot create <box> [<name>] [--description D]').positionals).toEqual([
      { name: 'box', required: true },
      { name: 'name', required: false },
    ]);
  });

  it('reads a bracket holding several flags', () => {
    expect(parseUsage(IMPORT).flags.map((f) => [f.name, f.value, f.required])).toEqual([
      ['name', 'N', false],
      ['kernel', 'F', false],
      ['initrd', 'F', false],
      ['append', 'S', false],
    ]);
  });

  it('rejects a malformed usage line when the table is loaded', () => {
    expect(() => parseUsage('box create [<name>')).toThrow(/Unbalanced/);
    expect(() => parseUsage('box <name> extra')).toThrow(/Bad usage line/);
  });
});

describe('parsing a command line', () => {
  it('gives positionals and flags by name, numbers as numbers', () => {
    const a = parse(CREATE, ['web', '--image', 'seed', '--disk-size', '4', '--cpus=2'], { 'disk-size': 'int', cpus: 'int' });
    expect(a).toEqual({ pos: { name: 'web' }, flags: { image: 'seed', 'disk-size': 4, cpus: 2 } });
  });

  it('resolves path arguments against the working directory', () => {
    const a = parse(IMPORT, ['disks/seed.qcow2', '--kernel', '../k/vmlinuz', '--initrd=/abs/initrd'], { file: 'path', kernel: 'path', initrd: 'path' });
    expect(a.pos.file).toBe('/work/here/disks/seed.qcow2');
    expect(a.flags.kernel).toBe('/work/k/vmlinuz');
    expect(a.flags.initrd).toBe('/abs/initrd');
  });

  it('keeps a value that starts with a dash when it is not one of the flags', () => {
    expect(parse('snapshot create <box> [<name>] [--description D]', ['b', '--description', '-- careful']).flags.description).toBe('-- careful');
  });

  it('takes anything after -- as a positional, so names may start with a dash', () => {
    expect(parse('snapshot create <box> [<name>] [--description D]', ['b', '--', '--weird']).pos).toEqual({ box: 'b', name: '--weird' });
  });

  it('refuses an unknown flag, naming it and suggesting the close one', () => {
    const e = usageError(() => parse(CREATE, ['web', '--image', 'seed', '--memroy', '64']));
    expect(e.problem).toBe('Unknown option "--memroy" (did you mean --memory?).');
    expect(e.message).toContain('Usage: boxkeep box create <name> --image <image>');
    expect(e.code).toBe('InvalidArgument');
  });

  it('refuses a flag without its value, also when the next word is another flag', () => {
    expect(usageError(() => parse(CREATE, ['web', '--image'])).problem).toBe('The option --image needs a value (<image>).');
    expect(usageError(() => parse(CREATE, ['web', '--image', '--cpus', '2'])).problem).toBe('The option --image needs a value (<image>).');
  });

  it('refuses non-numeric and negative sizes', () => {
    const kinds: Record<string, ValueKind> = { 'disk-size': 'int' };
    expect(usageError(() => parse(CREATE, ['w', '--image', 's', '--disk-size', 'ten'], kinds)).problem).toBe('--disk-size must be a whole number, not "ten".');
    expect(usageError(() => parse(CREATE, ['w', '--image', 's', '--disk-size=-1'], kinds)).problem).toBe('--disk-size must be a whole number, not "-1".');
    expect(usageError(() => parse(CREATE, ['w', '--image', 's', '--disk-size', '1.5'], kinds)).problem).toBe('--disk-size must be a whole number, not "1.5".');
  });

  it('refuses missing and extra positionals', () => {
    expect(usageError(() => parse('box rename <box> <name>', ['only-one'])).problem).toBe('Missing <name>.');
    expect(usageError(() => parse('box rename <box> <name>', [])).problem).toBe('Missing <box> and <name>.');
    expect(usageError(() => parse('box rename <box> <name>', ['a', 'my', 'box'])).problem).toBe('Unexpected argument "box" (quote a name that contains spaces).');
    expect(usageError(() => parse('box list', ['x', 'y'])).problem).toBe('Unexpected arguments "x" "y".');
  });

  it('refuses a required flag left out, a flag given twice, and a value on a switch', () => {
    expect(usageError(() => parse(CREATE, ['web'])).problem).toBe('The option --image <image> is required.');
    expect(usageError(() => parse(CREATE, ['web', '--image', 'a', '--image', 'b'])).problem).toBe('The option --image is given twice.');
    expect(usageError(() => parse('box stop <box> [--force]', ['b', '--force=yes'])).problem).toBe('The option --force is a switch and takes no value.');
  });

  it('takes a flag written [--flag V]... again and again, as a list in the order given', () => {
    const SET = 'box set <box> [--forward SPEC]... [--no-forwards] [--cpus N]';
    expect(parseUsage(SET).flags[0]).toEqual({ name: 'forward', value: 'SPEC', required: false, repeatable: true });
    expect(parse(SET, ['b', '--forward', '8080:80', '--cpus', '2', '--forward=2222:22'], { cpus: 'int' }).flags).toEqual({ forward: ['8080:80', '2222:22'], cpus: 2 });
    expect(parse(SET, ['b', '--forward', '8080:80']).flags.forward).toEqual(['8080:80']);
    expect(usageError(() => parse(SET, ['b', '--cpus', '1', '--cpus', '2'])).problem).toBe('The option --cpus is given twice.');
    expect(usageError(() => parse(SET, ['b', '--forward'])).problem).toBe('The option --forward needs a value (SPEC).');
  });

  it('refuses short options other than the global -h', () => {
    expect(usageError(() => parse('box stop <box> [--force]', ['b', '-f'])).problem).toBe('Unknown option "-f".');
  });
});

describe('global options', () => {
  it('are taken from anywhere before --, the rest kept in order', () => {
    expect(parseGlobal(['box', 'list', '--json', '--home', 'h'], '/cwd')).toEqual({ home: '/cwd/h', json: true, help: false, version: false, rest: ['box', 'list'] });
    expect(parseGlobal(['--home=/x', 'snapshot', 'create', 'b', '--', '--json'], '/cwd')).toEqual({
      home: '/x', json: false, help: false, version: false, rest: ['snapshot', 'create', 'b', '--', '--json'],
    });
    expect(parseGlobal(['-h', 'box'], '/').help).toBe(true);
  });

  it('refuses --home without a directory', () => {
    expect(() => parseGlobal(['--home'], '/')).toThrow('The option --home needs a directory (DIR).');
    expect(() => parseGlobal(['--home', '--json', 'box', 'list'], '/')).toThrow(/needs a directory/);
    expect(() => parseGlobal(['--home='], '/')).toThrow(/needs a directory/);
  });

  it('knows JSON was asked for before anything is parsed', () => {
    expect(wantsJson(['box', 'frob', '--json'])).toBe(true);
    expect(wantsJson(['snapshot', 'create', 'b', '--', '--json'])).toBe(false);
  });
});

describe('suggestions', () => {
  it('offers the nearest word only when it is close', () => {
    expect(closest('snapshto', ['image', 'box', 'snapshot'])).toBe('snapshot');
    expect(closest('xyz', ['image', 'box', 'snapshot'])).toBeNull();
  });
});
