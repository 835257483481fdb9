// Validates FHIR R4 resources with the npm `fhir` package (FHIR.js), an implementation
// independent of ours: reads a JSON array of resources on stdin, writes a JSON array of
// problems (errors, and unexpected properties) on stdout.
const { Fhir } = require('fhir');

const fhir = new Fhir();
// FHIR.js 4.12 does not parse version-specific references ("CarePlan/1/_history/2"), which R4
// allows (https://hl7.org/fhir/R4/references.html#literal). That one known gap is excused here,
// and only for references of exactly that form.
const VERSIONED = /^(https?:\/\/\S+\/)?[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}\/_history\/[A-Za-z0-9\-.]{1,64}$/;

function versionedReferenceGap(message) {
  const prefix = 'Invalid type for reference ';
  if (!message.message.startsWith(prefix)) return false;
  const reference = JSON.parse(message.message.slice(prefix.length));
  return Object.keys(reference).length === 1 && VERSIONED.test(reference.reference || '');
}
let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const problems = [];
  for (const resource of JSON.parse(input)) {
    const result = fhir.validate(resource);
    for (const message of result.messages) {
      const unexpected = message.message === 'Unexpected property';
      if ((message.severity === 'error' && !versionedReferenceGap(message)) || unexpected) {
        problems.push(`${resource.resourceType}/${resource.id || '-'} ${message.location}: ${message.message}`);
      }
    }
  }
  process.stdout.write(JSON.stringify(problems));
});
