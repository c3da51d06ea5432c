// The dependency directions of the design, checked over the real import graph: main → shell →
// host → core → shared, the sandboxed preload on shared alone, the renderer never in electron/,
// and no import cycle between files. Every import and export-from of every .ts/.tsx under
// electron/, shared/ and renderer/ is read with the TypeScript parser (dynamic import() too),
// so a new file is covered the day it is added.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SCANNED = ['electron', 'shared', 'renderer'];

/**
 * A forbidden edge: a file whose path matches `from` may not import a target matching `to`.
 * Targets are repository paths (`electron/core/core.ts`), or `pkg:<name>` for packages
 * (`pkg:electron`, `pkg:node:fs`). Type-only imports count: a type is a dependency too.
 * A new direction to guard is one more line here.
 */
interface Rule {
  rule: string;
  from: RegExp;
  to: RegExp;
}

export const RULES: Rule[] = [
  { rule: 'electron/host does not import electron/shell (shell uses host, not the other way)', from: /^electron\/host\//, to: /^electron\/shell\// },
  { rule: 'nothing below electron/main imports it (main is the Electron wiring on top)', from: /^electron\/(shell|host|core|cli)\//, to: /^electron\/main\// },
  { rule: 'electron/preload imports only shared/, electron/preload/ and the electron package (it runs sandboxed)', from: /^electron\/preload\//, to: /^(?!shared\/|electron\/preload\/|pkg:electron$)/ },
  { rule: 'shared/ imports only shared/ and valibot (it runs in Node and in the browser)', from: /^shared\//, to: /^(?!shared\/|pkg:valibot$)/ },
  { rule: 'renderer/ does not import electron/ (it talks to it through shared/ only)', from: /^renderer\//, to: /^electron\// },
  { rule: 'electron/core does not import the layers above it', from: /^electron\/core\//, to: /^electron\/(shell|host|main|cli|preload)\// },
  { rule: "electron/core, shared/ and renderer/ never import 'electron' (their logic runs under plain Node)", from: /^(electron\/core|shared|renderer)\//, to: /^pkg:electron(\/|$)/ },
  { rule: 'nothing in electron/core imports core.ts (the composition root)', from: /^electron\/core\/(?!core\.ts$)/, to: /^electron\/core\/core\.ts$/ },
];

interface Edge {
  from: string;
  to: string;
  /** Erased at compile time (import type, or only type specifiers): no runtime dependency. */
  typeOnly: boolean;
}

function sourceFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
      const rel = `${dir}/${entry.name}`;
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules' && !entry.name.startsWith('.')) walk(rel);
      } else if (/\.tsx?$/.test(entry.name)) out.push(rel);
    }
  };
  for (const dir of SCANNED) walk(dir);
  return out.sort();
}

/** A relative specifier as the repository path it names ('./x.js' is x.ts or x.tsx); a package as pkg:<name>. */
function resolveTarget(from: string, specifier: string): string {
  if (!specifier.startsWith('.')) return `pkg:${specifier}`;
  const joined = path.posix.normalize(path.posix.join(path.posix.dirname(from), specifier));
  const stem = joined.replace(/\.(js|jsx|mjs)$/, '');
  for (const candidate of [joined, `${stem}.ts`, `${stem}.tsx`, `${stem}/index.ts`, `${stem}/index.tsx`]) {
    if (/\.tsx?$/.test(candidate) && fs.existsSync(path.join(ROOT, candidate))) return candidate;
  }
  return joined;
}

function importsOf(file: string): Edge[] {
  const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, file.endsWith('.tsx') ? ts.ScriptKind.TSX : ts.ScriptKind.TS);
  const edges: Edge[] = [];
  const add = (specifier: ts.Expression | undefined, typeOnly: boolean) => {
    if (specifier && ts.isStringLiteralLike(specifier)) edges.push({ from: file, to: resolveTarget(file, specifier.text), typeOnly });
  };
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      const named = clause?.namedBindings && ts.isNamedImports(clause.namedBindings) ? clause.namedBindings.elements : null;
      const onlyTypes = !!clause && (clause.isTypeOnly || (!clause.name && !!named && named.length > 0 && named.every((e) => e.isTypeOnly)));
      add(node.moduleSpecifier, onlyTypes);
    } else if (ts.isExportDeclaration(node)) {
      const named = node.exportClause && ts.isNamedExports(node.exportClause) ? node.exportClause.elements : null;
      add(node.moduleSpecifier, node.isTypeOnly || (!!named && named.length > 0 && named.every((e) => e.isTypeOnly)));
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      add(node.arguments[0], false);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node.argument.literal as ts.Expression, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return edges;
}

export function violations(edges: readonly Edge[], rules: readonly Rule[] = RULES): string[] {
  return edges.flatMap((e) => rules.filter((r) => r.from.test(e.from) && r.to.test(e.to)).map((r) => `${e.from} → ${e.to}: ${r.rule}`));
}

/** The layer a file belongs to: electron/<layer>, or shared / renderer. */
export const layerOf = (file: string) => file.split('/').slice(0, file.startsWith('electron/') ? 2 : 1).join('/');

/** Edges between layers, type-only ones included: two layers that use each other are one tangle. */
export function layerEdges(edges: readonly Edge[]): Edge[] {
  return edges
    .filter((e) => !e.to.startsWith('pkg:') && layerOf(e.from) !== layerOf(e.to))
    .map((e) => ({ from: layerOf(e.from), to: layerOf(e.to), typeOnly: false }));
}

/**
 * Every import cycle, each once, as "a.ts → b.ts → a.ts". Type-only imports count: erased at
 * run time, they still tie two files together for a reader and for every change.
 */
export function cycles(edges: readonly Edge[]): string[] {
  const next = new Map<string, string[]>();
  for (const e of edges) {
    const known = next.get(e.from) ?? [];
    if (!e.to.startsWith('pkg:') && !known.includes(e.to)) next.set(e.from, [...known, e.to]);
  }
  const found = new Set<string>();
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string) => {
    state.set(file, 'open');
    stack.push(file);
    for (const to of next.get(file) ?? []) {
      if (state.get(to) === 'open') {
        const loop = stack.slice(stack.indexOf(to));
        // The same loop found from another entry point: name it from its smallest file.
        const start = loop.indexOf([...loop].sort()[0]!);
        const turned = [...loop.slice(start), ...loop.slice(0, start)];
        found.add([...turned, turned[0]].join(' → '));
      } else if (!state.has(to)) visit(to);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of [...next.keys()].sort()) if (!state.has(file)) visit(file);
  return [...found].sort();
}

describe('import graph', () => {
  const files = sourceFiles();
  const edges = files.flatMap(importsOf);

  it('reads the imports of every source file', () => {
    // A parser that silently found nothing would pass every rule below.
    expect(files.length).toBeGreaterThan(100);
    expect(edges).toContainEqual({ from: 'electron/cli/invoker.ts', to: 'electron/core/core.ts', typeOnly: false });
    expect(edges).toContainEqual({ from: 'electron/main/index.ts', to: 'pkg:electron', typeOnly: false });
    expect(edges.some((e) => e.from.startsWith('renderer/') && e.from.endsWith('.tsx') && e.to.startsWith('shared/'))).toBe(true);
  });

  it('names a forbidden edge and a cycle when there is one', () => {
    const bad: Edge[] = [
      { from: 'electron/host/x.ts', to: 'electron/shell/y.ts', typeOnly: true },
      { from: 'electron/shell/y.ts', to: 'electron/host/x.ts', typeOnly: false },
      { from: 'electron/host/x.ts', to: 'electron/shell/y.ts', typeOnly: false },
    ];
    expect(violations(bad)[0]).toBe('electron/host/x.ts → electron/shell/y.ts: ' + RULES[0]!.rule);
    expect(cycles(bad)).toEqual(['electron/host/x.ts → electron/shell/y.ts → electron/host/x.ts']);
    // A cycle closed by a type-only import is a cycle too.
    expect(cycles(bad.slice(0, 2))).toEqual(['electron/host/x.ts → electron/shell/y.ts → electron/host/x.ts']);
    expect(cycles(bad.slice(1))).toEqual(['electron/host/x.ts → electron/shell/y.ts → electron/host/x.ts']);
    expect(cycles(bad.slice(0, 1))).toEqual([]);
  });

  it('follows the layer directions', () => {
    expect(violations(edges)).toEqual([]);
  });

  it('has no import cycle between files', () => {
    expect(cycles(edges)).toEqual([]);
  });

  it('has no cycle between layers', () => {
    expect(cycles(layerEdges(edges))).toEqual([]);
  });
});
