// The CI gate around electronegativity (which always exits 0): its report is parsed, and any
// medium or high finding that is not a reviewed one fails the run.
import { describe, expect, it } from 'vitest';
// @ts-expect-error -- a plain .mjs CI script without type declarations
import { evaluate, parseCsv, readReport, REVIEWED } from '../../.ci/electronegativity.mjs';

const HEADER = 'issue, severity, confidence, filename, location, sample, description, url';
const row = (issue: string, severity: string, file: string, sample: string) =>
  `${issue},"${severity}","FIRM","${file}","1:1","${sample.replace(/"/g, '""')}","desc, with a comma",https://example.invalid`;
const reviewedRows = (REVIEWED as Array<{ check: string; file: string; sample: string }>).map((r) => row(r.check, 'MEDIUM', r.file, r.sample));

describe('electronegativity gate', () => {
  it('reads quoted fields with commas, quotes and newlines', () => {
    expect(parseCsv('a,"b, c","say ""hi""",d\n"multi\nline",x\n')).toEqual([['a', 'b, c', 'say "hi"', 'd'], ['multi\nline', 'x']]);
  });

  it('passes the reviewed preload and openExternal findings and anything low', () => {
    const findings = readReport([HEADER, ...reviewedRows, row('CSP_GLOBAL_CHECK', 'LOW', 'N/A', 'N/A')].join('\n'));
    const r = evaluate(findings);
    expect(r).toMatchObject({ ok: true, problems: [], lower: 1 });
    expect(r.accepted).toHaveLength(2);
  });

  it('fails on a new medium or high finding, naming where it is', () => {
    const findings = readReport([HEADER, ...reviewedRows, row('NODE_INTEGRATION_JS_CHECK', 'HIGH', 'main/other.ts', 'nodeIntegration: true')].join('\n'));
    const r = evaluate(findings);
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual(['HIGH NODE_INTEGRATION_JS_CHECK at main/other.ts:1:1: desc, with a comma — nodeIntegration: true']);
  });

  it('fails when a reviewed check fires a second time, or a reviewed entry no longer matches', () => {
    const twice = evaluate(readReport([HEADER, ...reviewedRows, row('OPEN_EXTERNAL_JS_CHECK', 'MEDIUM', 'main/window.main.ts', 'if (isOwnedExternalLink(url)) void shell.openExternal(url);')].join('\n')));
    expect(twice.ok).toBe(false);
    expect(twice.problems[0]).toContain('matches 2 findings');
    const stale = evaluate(readReport([HEADER, reviewedRows[0]!].join('\n')));
    expect(stale.ok).toBe(false);
    expect(stale.problems[0]).toContain('OPEN_EXTERNAL_JS_CHECK in main/window.main.ts matches 0 findings');
  });

  it('refuses a report in another format instead of passing it', () => {
    expect(() => readReport('rule,level\nX,HIGH')).toThrow('has no issue, severity, confidence, filename, location, sample, description column');
  });
});
