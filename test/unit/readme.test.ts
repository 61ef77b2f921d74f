// The README's tables and lists, held against what they describe: the step table, the state
// machine, package.json's test commands and the repository's own files.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FUNCTION_KEYS } from '../../src/composition/steps';
import { loadDefinition } from '../../cli/engine';

const ROOT = join(__dirname, '..', '..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** The rows of the table whose header starts with `header`, as cells. */
function table(header: string): string[][] {
  const lines = README.split('\n');
  const start = lines.findIndex((l) => l.startsWith(header));
  if (start < 0) throw new Error(`the README has no table ${header}`);
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(
      line
        .split('|')
        .slice(1, -1)
        .map((c) => c.trim()),
    );
  }
  return rows;
}

/** The Task and Map states of ConvertVideo's top level: what the picture and the layout name. */
function topLevelWork(): string[] {
  const { definition } = loadDefinition();
  const states = definition.States as Record<string, { Type: string }>;
  return Object.entries(states)
    .filter(([, s]) => s.Type === 'Task' || s.Type === 'Map')
    .map(([name]) => name);
}

describe('the README', () => {
  it("layout table has a row for every function of the step table, naming its folder's step file, and names every Task", () => {
    const rows = table('| state or route | function key | code |');
    const keys = rows.map((r) => /`(\w+)`/.exec(r[1] ?? '')?.[1]);
    expect([...keys].sort()).toEqual([...FUNCTION_KEYS].sort());
    for (const [, key, code] of rows) {
      const name = /`(\w+)`/.exec(key!)![1]!;
      const file = `src/steps/${kebab(name)}.ts`;
      expect([name, code]).toEqual([name, expect.stringContaining(`\`${file}\``)]);
      expect(existsSync(join(ROOT, file))).toBe(true);
    }
    const named = rows.map((r) => r[0]).join(' ');
    for (const { state } of loadDefinition().tasks) expect([state, named.includes(`\`${state}\``)]).toEqual([state, true]);
  });

  it('picture at the top names every Task and Map of the state machine', () => {
    const picture = /```\n([\s\S]*?)```/.exec(README)![1]!;
    for (const state of topLevelWork()) expect([state, picture.includes(state)]).toEqual([state, true]);
  });

  it('lists every test command package.json has, in its Tests section', () => {
    const { scripts } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    const section = README.slice(README.indexOf('\n## Tests'), README.indexOf('\n## Benchmarks'));
    for (const name of Object.keys(scripts).filter((n) => n === 'test' || n.startsWith('test:'))) {
      const command = name === 'test' ? 'npm test ' : `npm run ${name} `;
      expect([name, section.includes(command)]).toEqual([name, true]);
    }
  });

  it('cites only documents the repository has', () => {
    const cited = [...README.matchAll(/\b([\w./-]+\.md)\b/g)].map((m) => m[1]!);
    for (const file of new Set(cited)) expect([file, existsSync(join(ROOT, file))]).toEqual([file, true]);
  });
});
