// The lab IdP: keys and tokens for scripts/lab.sh, minted by the npm package jose (the
// version tests/auth/install.sh pins), never by anything of ztgate's own.
//
// Usage (scripts/lab.sh runs it at `up`):
//   ZTG_JOSE_DIR=DIR node scripts/lab/tokens.mjs --out OUT [--now UNIX_SECONDS]
//
// jose is resolved from $ZTG_JOSE_DIR/node_modules (tests/auth/install.sh DIR installs it
// there), as tests/auth/mint.mjs does. Every run makes fresh keys. It writes:
//   OUT/jwks.json        issuer lab-idp's public JWKS, served by nginx over TLS: one key per
//                        asymmetric algorithm (RS256/384/512 and PS256/384/512 RSA-2048,
//                        ES256 P-256, ES384 P-384, ES512 P-521, EdDSA Ed25519); kid "lab-" +
//                        the algorithm in lower case; never an HMAC secret
//   OUT/jwks-rotated.json  jwks.json plus the ES256 key "lab-es256-next": what the IdP publishes
//                        after a key rotation (tests/e2e/lab_test.sh swaps it in while ztgate runs)
//   OUT/hmac.jwks        issuer lab-hmac's oct keys (HS256/384/512), mode 0600: the policy's
//                        jwks_file; HMAC secrets are never published
//   OUT/private.jwks     every private key (mode 0600), to mint more tokens by hand
//   OUT/tokens/NAME.jwt  one token per file, no newline
//   OUT/tokens.json      [{name, alg, kid, iss, sub, jti, method, path, expect, status, reason,
//                          note}]: "allow" tokens (one per algorithm) and the denials the demo
//                        and tests/e2e/lab_test.sh show, with the HTTP status and reason ztgate
//                        must give
// Claims of a valid token: iss, aud "lab-api", sub, tenant "acme", scope "orders:read", jti,
// iat, exp now + 1 h; header typ "at+jwt". Every "allow" token is checked with jose's
// jwtVerify against the JWKS before anything is written.
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

if (!process.env.ZTG_JOSE_DIR) {
  console.error('tokens.mjs: set ZTG_JOSE_DIR to a directory tests/auth/install.sh installed jose into');
  process.exit(2);
}
const jose = createRequire(join(process.env.ZTG_JOSE_DIR, 'package.json'))('jose');
const { SignJWT, createLocalJWKSet, exportJWK, generateKeyPair, generateSecret, importJWK, jwtVerify } = jose;

const { values: opts } = parseArgs({ options: { out: { type: 'string' }, now: { type: 'string' } } });
if (!opts.out) {
  console.error('usage: ZTG_JOSE_DIR=DIR node tokens.mjs --out DIR [--now UNIX_SECONDS]');
  process.exit(2);
}
const now = opts.now !== undefined ? Number(opts.now) : Math.floor(Date.now() / 1000);
if (!Number.isInteger(now)) throw new Error(`--now: not a number of seconds: ${opts.now}`);

// Must match rules/lab.conf: issuer lab-idp's and lab-hmac's issuer and audiences.
const IDP_ISS = 'https://idp.lab.test';
const HMAC_ISS = 'https://hmac.lab.test';
const AUD = 'lab-api';
const ASYM = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
const HMAC = ['HS256', 'HS384', 'HS512'];
const orderPath = (tenant, id) => `/api/v1/tenants/${tenant}/orders/${id}`;

const out = opts.out;
mkdirSync(join(out, 'tokens'), { recursive: true });
const writeJson = (path, value, mode = 0o644) => {
  writeFileSync(path, JSON.stringify(value, null, 2) + '\n', { mode });
  chmodSync(path, mode);   // an existing file keeps its mode otherwise
};

// ---- keys ----------------------------------------------------------------------------------

async function makeKey(alg) {
  const kid = `lab-${alg.toLowerCase()}`;
  const meta = { kid, alg, use: 'sig' };
  if (HMAC.includes(alg)) {
    const secret = await generateSecret(alg, { extractable: true });   // 32/48/64 bytes
    const jwk = { ...(await exportJWK(secret)), ...meta };
    return { alg, kid, iss: HMAC_ISS, sign: secret, publicJwk: jwk, privateJwk: jwk };
  }
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true, modulusLength: 2048 });
  return { alg, kid, iss: IDP_ISS, sign: privateKey,
           publicJwk: { ...(await exportJWK(publicKey)), ...meta },
           privateJwk: { ...(await exportJWK(privateKey)), ...meta } };
}

const keys = {};
for (const alg of [...ASYM, ...HMAC]) keys[alg] = await makeKey(alg);
// Not in any JWKS: signs the "wrong signature" token under the kid of the real ES256 key.
const forger = await makeKey('ES256');
// The key the IdP rotates to: only in jwks-rotated.json.
const next = await makeKey('ES256');
next.kid = 'lab-es256-next';
next.publicJwk.kid = next.privateJwk.kid = next.kid;

const idpJwks = { keys: ASYM.map((a) => keys[a].publicJwk) };
const hmacJwks = { keys: HMAC.map((a) => keys[a].publicJwk) };
for (const k of idpJwks.keys) {
  if (k.kty === 'oct' || 'd' in k || 'k' in k) throw new Error(`secret material in the public JWKS: ${k.kid}`);
}
writeJson(join(out, 'jwks.json'), idpJwks);
writeJson(join(out, 'jwks-rotated.json'), { keys: [...idpJwks.keys, next.publicJwk] });
writeJson(join(out, 'hmac.jwks'), hmacJwks, 0o600);
writeJson(join(out, 'private.jwks'), { keys: Object.values(keys).map((k) => k.privateJwk) }, 0o600);

// ---- tokens --------------------------------------------------------------------------------

const jti = (what) => `lab-${what}-${randomBytes(6).toString('hex')}`;
const claims = (key, extra = {}) => ({ iss: key.iss, aud: AUD, sub: 'alice', tenant: 'acme', scope: 'orders:read',
  jti: jti(key.kid.slice(4)), iat: now, exp: now + 3600, ...extra });
const sign = (key, payload, kid = key.kid) =>
  new SignJWT(payload).setProtectedHeader({ alg: key.alg, kid, typ: 'at+jwt' }).sign(key.sign);

const tokens = [];
async function add(name, key, payload, entry) {
  const token = await sign(key, payload, entry.kid ?? key.kid);
  tokens.push({ name, alg: key.alg, kid: entry.kid ?? key.kid, iss: payload.iss, sub: payload.sub, jti: payload.jti,
                method: 'GET', path: orderPath('acme', 7), status: 200, reason: null, note: '', ...entry, token });
}

for (const alg of [...ASYM, ...HMAC]) {
  const k = keys[alg];
  await add(`valid-${alg.toLowerCase()}`, k, claims(k),
            { expect: 'allow', note: `${alg}, issuer ${HMAC.includes(alg) ? 'lab-hmac' : 'lab-idp'}` });
}
const es = keys.ES256;
await add('revocable', es, claims(es, { jti: 'lab-revoke-demo' }),
          { expect: 'allow', note: 'valid until `ztgatectl revoke jti lab-revoke-demo`' });
await add('expired', es, claims(es, { iat: now - 7200, exp: now - 3600 }),
          { expect: 'deny', status: 401, reason: 'expired', note: 'exp an hour ago' });
await add('other-tenant', es, claims(es),
          { expect: 'deny', status: 403, reason: 'object_mismatch', path: orderPath('globex', 7),
            note: 'tenant acme asking for globex\'s order' });
await add('wrong-signature', forger, claims(es), { expect: 'deny', status: 401, reason: 'bad_signature', kid: es.kid,
          note: 'signed by a key not in the JWKS, under the kid of the real ES256 key' });
await add('rotated', next, claims(next), { expect: 'rotation', status: 200,
          note: 'signed by lab-es256-next: unknown_kid until the IdP publishes jwks-rotated.json, then 200' });
await add('scope-missing', es, claims(es, { scope: 'profile' }),
          { expect: 'deny', status: 403, reason: 'scope_missing', note: 'scope profile, the route needs orders:read' });

// ---- checks, then write --------------------------------------------------------------------

const local = createLocalJWKSet(idpJwks);
const keyOf = (header, token) => header.alg.startsWith('HS')
  ? importJWK(hmacJwks.keys.find((k) => k.kid === header.kid), header.alg)
  : local(header, token);
for (const t of tokens) {
  if (t.expect !== 'allow') continue;
  await jwtVerify(t.token, keyOf, { issuer: t.iss, audience: AUD, typ: 'at+jwt', algorithms: [t.alg],
                                   requiredClaims: ['jti'], currentDate: new Date(now * 1000) })
    .catch((e) => { throw new Error(`${t.name}: jose refuses an allow token: ${e.message}`); });
}
for (const t of tokens) writeFileSync(join(out, 'tokens', `${t.name}.jwt`), t.token);
writeJson(join(out, 'tokens.json'), tokens);
console.log(`tokens.mjs: ${idpJwks.keys.length} public keys (${IDP_ISS}), ${hmacJwks.keys.length} HMAC keys ` +
            `(${HMAC_ISS}), ${tokens.length} tokens in ${out}`);
