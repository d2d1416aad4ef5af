// CQL -> ELM with @cqframework/cql 5.3.0. stdin: {"LibraryName": "cql text", ...};
// stdout: {"LibraryName": elm-json, ...}. Exits 1 listing every error (DTR: no translation errors).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  CqlTranslator, LibraryManager, ModelManager, createModelInfoProvider, stringAsSource,
} from "@cqframework/cql/cql-to-elm";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const fhirInfo = readFileSync(join(dirname(require.resolve("cql-exec-fhir")), "modelInfos",
  "fhir-modelinfo-4.0.1.xml"), "utf8");
const systemInfo = readFileSync(join(here, "modelinfo", "system-modelinfo.xml"), "utf8");

const models = new ModelManager();
models.modelInfoLoader.registerModelInfoProvider(createModelInfoProvider((id, system, version) => {
  if (id === "System") return stringAsSource(systemInfo);
  if (id === "FHIR" && (!version || version === "4.0.1")) return stringAsSource(fhirInfo);
  return null;
}), true);
const libraries = new LibraryManager(models);

const sources = JSON.parse(readFileSync(0, "utf8"));
const out = {}; const problems = [];
for (const [name, text] of Object.entries(sources)) {
  const translator = CqlTranslator.fromText(text, libraries);
  const errors = translator.errors.asJsReadonlyArrayView();
  for (const e of errors) {
    const loc = e.locator ? `${e.locator.startLine}:${e.locator.startChar}` : "?";
    problems.push(`${name} ${loc}: ${e.message}`);
  }
  out[name] = JSON.parse(translator.toJson());
}
if (problems.length) { process.stderr.write(problems.join("\n") + "\n"); process.exit(1); }
process.stdout.write(JSON.stringify(out));
