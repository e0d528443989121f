import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DATA_KINDS, NODE_ID_PATTERN } from '../../engine/io/project';

const read = (path: string): string => readFileSync(new URL(path, import.meta.url), 'utf8');

describe('project schema and its generated validator', () => {
  it('has a committed validator that matches the schema (run `npm run schema` if not)', async () => {
    // A variable specifier: the script is plain JavaScript without type declarations.
    const script = '../../scripts/gen-project-validator.mjs';
    const { generateValidatorCode } = (await import(script)) as { generateValidatorCode(): string };
    expect(read('../../engine/io/project-validate.generated.js')).toBe(generateValidatorCode());
  });

  it('generates code that imports nothing and compiles nothing at run time', () => {
    const code = read('../../engine/io/project-validate.generated.js');
    expect(code).not.toMatch(/\brequire\(|^\s*import\b|\bimport\(/m);
    expect(code).not.toMatch(/new Function|\beval\(/);
  });

  it('agrees with the constants project.ts keeps beside it', () => {
    const schema = JSON.parse(read('../../engine/io/project-schema.json'));
    expect(schema.definitions.node.properties.id.pattern).toBe(NODE_ID_PATTERN.source);
    const kinds = schema.definitions.data.oneOf.map((s: { properties: { kind: { const: string } } }) => s.properties.kind.const);
    expect(kinds).toEqual([...DATA_KINDS]);
  });
});
