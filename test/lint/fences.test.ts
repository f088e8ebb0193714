import { readdirSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { ESLint, type Linter } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';
import { ALLOWED_IMPORTS, FORBIDDEN_IMPORTS, WORKFLOW_FENCE, type Layer } from './fixtures/fence-cases';

const ROOT = join(__dirname, '..', '..');
const PROBE = 'fence-probe.ts';
const FENCE_RULES = new Set(['@typescript-eslint/no-restricted-imports', 'no-restricted-syntax']);

// The probes are virtual files, which the type-checked rules' project service cannot see. The fences need no types,
// so the probes are parsed without them; every other setting comes from the repository's eslint.config.mjs.
const eslint = new ESLint({
  cwd: ROOT,
  overrideConfig: [
    { files: [`src/${PROBE}`, `src/*/${PROBE}`], ...(tseslint.configs.disableTypeChecked as Linter.Config) },
  ],
});

/** The fence messages ESLint gives `code` as a file of `layer`. */
async function fenceMessages(layer: Layer, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(`${code}\n`, { filePath: join(ROOT, 'src', layer, PROBE) });
  expect(result?.messages.filter((m) => m.fatal)).toEqual([]);
  return (result?.messages ?? []).filter((m) => m.ruleId && FENCE_RULES.has(m.ruleId)).map((m) => m.message);
}

describe('lint fences between the layers', () => {
  it.each(FORBIDDEN_IMPORTS.map(({ layer, code, message }) => [layer, code, message] as const))(
    'src/%s refuses %s, with one message naming the fence',
    async (layer, code, message) => {
      expect(await fenceMessages(layer, code)).toEqual([expect.stringContaining(message)]);
    },
  );

  it.each(ALLOWED_IMPORTS.map(({ layer, code }) => [layer, code] as const))('src/%s allows %s', async (layer, code) => {
    expect(await fenceMessages(layer, code)).toEqual([]);
  });

  it('refuses every Node built-in in workflow code, in both spellings, from builtinModules', async () => {
    const names = builtinModules.flatMap((name) => (name.startsWith('node:') ? [name] : [name, `node:${name}`]));
    const messages = await fenceMessages('workflows', names.map((name) => `import '${name}';`).join('\n'));
    expect(messages).toHaveLength(names.length);
    expect(messages.filter((m) => !m.includes(`${WORKFLOW_FENCE}: no Node built-ins`))).toEqual([]);
  });

  it('fences workflow code off from every other part of src, including ones added later', async () => {
    const others = readdirSync(join(ROOT, 'src'))
      .map((entry) => entry.replace(/\.ts$/, ''))
      .filter((entry) => entry !== 'domain' && entry !== 'workflows');
    expect(others.length).toBeGreaterThan(0);
    for (const entry of others) {
      expect(await fenceMessages('workflows', `import '../${entry}';`), entry).toEqual([
        expect.stringContaining(WORKFLOW_FENCE),
      ]);
    }
  });
});
