import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { scenarioJsonSchema } from '../../src/scenario/write-json-schema.js';

const committed = fileURLToPath(new URL('../../../schema/scenario.schema.json', import.meta.url));

interface JsonSchemaNode {
  type?: string | string[];
  required?: string[];
  properties?: Record<string, JsonSchemaNode>;
  items?: JsonSchemaNode & { oneOf?: JsonSchemaNode[] };
}

describe('scenario JSON Schema', () => {
  const schema = scenarioJsonSchema() as JsonSchemaNode & { title?: string };

  it('matches the committed schema/scenario.schema.json (regenerate with npm run schema)', () => {
    assert.deepEqual(JSON.parse(readFileSync(committed, 'utf8')), schema);
  });

  it('describes the input format', () => {
    assert.equal(schema.title, 'portstorm scenario');
    assert.deepEqual(schema.required, ['load']);
    assert.deepEqual(Object.keys(schema.properties!.connection!.properties!).sort(), ['close', 'localAddresses', 'poolSize', 'reuse']);
    const groups = schema.properties!.load!.items!.oneOf!;
    assert.equal(groups.length, 2);
    for (const g of groups) assert.deepEqual(g.properties!.duration!.type, ['number', 'string']);
    assert.deepEqual(schema.properties!.timeouts!.properties!.connect!.type, ['number', 'string']);
  });
});
