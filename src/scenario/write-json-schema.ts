/**
 * Writes the JSON Schema of the scenario input format, for editors:
 * `node build/src/scenario/write-json-schema.js schema/scenario.schema.json`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { scenarioSchema } from './schema.js';

/** The JSON Schema (draft 2020-12) of what a scenario file may contain, as plain JSON. */
export function scenarioJsonSchema(): object {
  const generated = z.toJSONSchema(scenarioSchema, {
    io: 'input',
    unrepresentable: 'any',
    override: ({ jsonSchema }) => {
      // zod's `starts_with` is not a JSON Schema format; the accompanying `pattern` expresses it.
      if (jsonSchema.format === 'starts_with') delete jsonSchema.format;
      // An object that the schema's preprocess also accepts as a string (`.meta({ orString })`).
      const orString = jsonSchema.orString;
      if (typeof orString === 'string') {
        delete jsonSchema.orString;
        const object = { ...jsonSchema };
        for (const key of Object.keys(jsonSchema)) delete jsonSchema[key];
        jsonSchema.anyOf = [{ type: 'string', description: orString }, object];
      }
    },
  });
  const { $schema, ...rest } = generated as Record<string, unknown>;
  return JSON.parse(
    JSON.stringify({
      $schema,
      $id: 'urn:portstorm:scenario',
      title: 'portstorm scenario',
      description: 'A portstorm load-test scenario (YAML or JSON). Durations are 500ms, 30s, 2m, 1h or a number of seconds.',
      ...rest,
    }),
  ) as object;
}

function main(argv: string[]): void {
  const out = argv[0];
  if (!out) {
    process.stderr.write('usage: write-json-schema <outfile>\n');
    process.exitCode = 2;
    return;
  }
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(scenarioJsonSchema(), null, 2)}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main(process.argv.slice(2));
