// Run prefill ELM with cql-execution + cql-exec-fhir over patient bundles (differential tests).
// stdin: {"elm": {...}, "bundles": [...], "now": "2026-11-23T12:00:00.000Z"}
// stdout: {"<patient id>": {"<define>": value}}; Codes become their code string.
import { readFileSync } from "node:fs";
import cql from "cql-execution";
import cqlfhir from "cql-exec-fhir";

const input = JSON.parse(readFileSync(0, "utf8"));
const library = new cql.Library(input.elm);
const executor = new cql.Executor(library, new cql.CodeService({}));
const source = cqlfhir.PatientSource.FHIRv401();
source.loadBundles(input.bundles);
const results = await executor.exec(source, cql.DateTime.parse(input.now));

const plain = (v) => {
  if (v === null || v === undefined) return null;
  if (Array.isArray(v)) return v.map(plain);
  if (v instanceof cql.Code) return v.code;
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "string") return v;
  if (typeof v.toString === "function" && v.isDateTime) return v.toString();
  return String(v);
};
const out = {};
for (const [pid, defines] of Object.entries(results.patientResults)) {
  out[pid] = Object.fromEntries(input.defines.map((d) => [d, plain(defines[d])]));
}
process.stdout.write(JSON.stringify(out));
