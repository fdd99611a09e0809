// A receiver's verifier of the default scheme (sha256=<hex HMAC-SHA256 of
// the raw body>, compared in constant time), kept as receivers write it,
// plus a driver: argv[2] is a JSON file of
// [{"body": <base64>, "signature": <header>}], argv[3] the secret.
const crypto = require('crypto');
const fs = require('fs');

function verifyMomentumSignature(rawBody, signatureHeader, secret) {
if (!signatureHeader) return false;
const expected = 'sha256=' + crypto.createHmac('sha256', secret)
.update(rawBody)
.digest('hex');
const a = Buffer.from(signatureHeader);
const b = Buffer.from(expected);
return a.length === b.length && crypto.timingSafeEqual(a, b);
}

const cases = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
let ok = 0;
for (const c of cases) {
  if (verifyMomentumSignature(Buffer.from(c.body, 'base64'), c.signature, process.argv[3])) ok++;
}
console.log(`verified ${ok} of ${cases.length}`);
process.exit(ok === cases.length ? 0 : 1);
